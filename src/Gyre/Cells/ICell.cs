using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>How a cell's recurrent weight weight_hh is shaped (G gates, H units, heads n).</summary>
public enum RecurrentWeights
{
    /// <summary>weight_hh [G·H, H]: every unit sees every unit (GRU, LSTM, RNN). The runner packs it for the
    /// per-step products and computes dW_hh with one GEMM after the time loop.</summary>
    Dense,
    /// <summary>weight_hh [G·H]: unit j sees only itself, u ⊙ h (IndRNN). The cell computes its product and gradient.</summary>
    Diagonal,
    /// <summary>weight_hh [n, G·H/n, H/n]: one dense block per head (FlashRNN-style heads). The cell computes its
    /// product and gradient.</summary>
    BlockDiagonal,
    /// <summary>No weight_hh and no bias_hh: gates come from x only (minGRU, minLSTM).</summary>
    None,
}

/// <summary>
/// The contract every recurrent cell implements, as a struct with static members so the sequence runner
/// (generic over the cell) is specialised by the JIT per cell: no virtual call in the time loop.
/// <para>
/// Letters: R rows of one step handed to the cell, H hidden units, G gate blocks, S saved floats per unit,
/// NS states per unit (h; h, c; ...). The runner owns the input projection gx = x·W_ihᵀ + b_ih (+ b_hh when
/// <see cref="HiddenBiasApart"/> is false) for all steps, time order, directions, stacking, variable lengths,
/// the split of rows over workers, dW_ih, db_ih, db_hh and dX. The cell owns one step: the recurrent product
/// (through <see cref="CellOps"/> for dense weights), the pointwise math, and its backward.
/// </para>
/// </summary>
public unsafe interface ICell
{
    /// <summary>G: gate blocks stacked in weight_ih (rows G·H).</summary>
    static abstract int Gates { get; }

    /// <summary>NS: states carried from step to step (1: h; 2: h, c). State 0 is h, the layer output.</summary>
    static abstract int States { get; }

    /// <summary>S: floats per (row, unit) a training step keeps for backward.</summary>
    static abstract int SavedWidth { get; }

    /// <summary>Whether S depends on the options (<see cref="SavedWidthFor"/>; LSSL keeps 3N + 2 floats per unit for N states).
    /// The loop paths and the state scan read S through <see cref="CellOps.SavedWidthOf{TCell}"/>; the fused paths, the linear
    /// scan and Newton, which such a cell never takes (its states are wider than H), use <see cref="SavedWidth"/>.</summary>
    static virtual bool SavedWidthFromParams => false;

    /// <summary>S for the given options when <see cref="SavedWidthFromParams"/>.</summary>
    static virtual int SavedWidthFor(in CellParams p) => throw new NotSupportedException();

    /// <summary>Per-row scratch of a step, in units of H floats (e.g. 3 for GRU's b_hh + W_hh·h).</summary>
    static abstract int ScratchWidth { get; }

    /// <summary>The shape of weight_hh (see <see cref="RecurrentWeights"/>).</summary>
    static abstract RecurrentWeights Recurrent { get; }

    /// <summary>True when b_hh stays inside the step (reset-after GRU: r ⊙ (W_hn h + b_hn)); then the
    /// runner does not fold it into gx and keeps ∂L/∂(recurrent pre-activation) in its own buffer
    /// (<see cref="CellBackwardStep.DGh"/>), from which db_hh and dW_hh are summed.</summary>
    static abstract bool HiddenBiasApart { get; }

    /// <summary>One forward step of <see cref="CellStep.Rows"/> rows: reads gx and the previous states,
    /// writes the next states and (when not null) saved. gx may be used as scratch.
    /// States may be narrower than H (<see cref="CellDefinition.StateWidth"/>, e.g. LSTM's projected h): every
    /// state's rows are <see cref="CellStep.StateLd"/> floats apart; a cell whose states are all H wide gets StateLd = H.</summary>
    static abstract void Forward(in CellStep s);

    /// <summary>Backward of one step: from ∂L/∂(next states) writes (overwrites) ∂L/∂gx, ∂L/∂gh when apart,
    /// and ∂L/∂(previous states), including the recurrent product's part. It may also write the step's saved rows
    /// (read again only by <see cref="RecurrentWeightGradients"/>), e.g. to keep a per-step gradient that a weight
    /// gradient needs; the runner clears the saved rows of padded steps after their backward step, so such a
    /// record contributes nothing from them.</summary>
    static abstract void Backward(in CellBackwardStep s);

    /// <summary>dW_hh (and any per-unit extra parameter's gradient) accumulated (+=) over the rows of a run of steps:
    /// the runner calls it once per chunk of steps of its backward loop (the chunk's gradients are then still in cache),
    /// so the rule must be a sum over rows; a cell with a wide linear state (<see cref="HasLinearState"/>) gets all steps
    /// in one call. Default: dense dW_hh += ∂L/∂ghᵀ · H_prev, one GEMM. Called when the cell has a weight_hh or extra
    /// parameters, so a cell with extra parameters and no weight_hh must give its own.</summary>
    static virtual void RecurrentWeightGradients(in CellWeightGradients g) => CellOps.DenseRecurrentGradients(g);

    /// <summary>Whether <see cref="RecurrentWeightGradients"/> reads only ∂L/∂gh, H_prev (any row stride) and writes only
    /// dW_hh, and the cell has no extra parameters: then the runner may run the backward loop in row groups, each with
    /// its own weight gradients (SequenceRunner.RowGroups.cs), which gives H_prev rows gathered and no saved rows.</summary>
    static virtual bool RowGroupGradients => false;

    /// <summary>N &gt; 0 when the forward step multiplies by the first N·H floats of <see cref="CellWeights.Extra"/> as a
    /// matrix E [N, H] (x·Eᵀ, e.g. LSTM-proj's W_hr): the runner then packs it once per call, as it packs W_hhᵀ, into
    /// <see cref="CellWeights.ExtraPacked"/> (a batch-1 step would otherwise pack E at every step).</summary>
    static virtual int PackedExtraColumns(in CellParams p) => 0;

    /// <summary>Whether the step is linear in its one state, h' = a ⊙ h + b with a, b [R, H] from gx alone (minGRU,
    /// minLSTM): then the runner can solve all T steps at once with <see cref="LinearRecurrence"/>
    /// (<see cref="Layers.SequencePath.Scan"/>).</summary>
    static virtual bool IsLinear => false;

    /// <summary>Linear cells: a, b [R, H] of R rows from gx [R, G·H] (saved [R, S·H] written when not null), such that
    /// <see cref="Forward"/> writes exactly a·h + b with two roundings (the recurrence's own arithmetic).</summary>
    static virtual void LinearCoefficients(float* a, float* b, float* saved, float* gx, int rows, int hidden, in CellWeights w) =>
        throw new NotSupportedException();

    /// <summary>Whether the cell is a read-out over a wide linear state (GLA, LSSL): NS = 2, state 1 (W_1 wide, the
    /// widest state) follows s' = a ⊙ s + b elementwise with a, b [R, W_1] from gx alone, and state 0 (h, the output)
    /// is a function of s' and gx that is never fed back. Then the runner solves state 1 for all T steps at once with
    /// <see cref="LinearRecurrence"/> over B·W_1 channels and runs the cell's own step over all rows in parallel for
    /// the read-out and the backward (<see cref="Layers.SequencePath.StateScan"/>).</summary>
    static virtual bool HasLinearState => false;

    /// <summary>Linear-state cells: a, b of R rows (rows <paramref name="ld"/> floats apart, the first W_1 used) from
    /// gx [R, G·H], which is left unchanged, such that <see cref="Forward"/>'s state 1 is exactly a·s + b with two
    /// roundings (the recurrence's own arithmetic).</summary>
    static virtual void LinearStateCoefficients(float* a, float* b, nint ld, float* gx, int rows, int hidden, in CellWeights w) =>
        throw new NotSupportedException();

    /// <summary>Linear-state cells, backward: a of R rows (<paramref name="ld"/> apart) from the step's saved rows
    /// [R, S·H], as <see cref="LinearStateCoefficients"/> gave it in the forward.</summary>
    static virtual void LinearStateDecay(float* a, nint ld, float* saved, int rows, int hidden, in CellWeights w) =>
        throw new NotSupportedException();

    /// <summary>Whether <see cref="FusedStep"/> exists: a batch-1 step that does W_hh·h and the gate math
    /// in one pass over unit blocks (where <see cref="RecurrentStepKernels.IsSupported"/>).</summary>
    static virtual bool HasFusedStep => false;

    /// <summary>The fused batch-1 step of units [u0, u1): next/prev state 0 with state j at + j·stateStride;
    /// w packed unit blocks of W_hh; biasHh b_hh [G, Hp] zero-padded or null (when apart).</summary>
    static virtual void FusedStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        float* biasHh, int hidden, int u0, int u1) => throw new NotSupportedException();

    /// <summary>Whether <see cref="FusedStep"/> may run on a share of the units, the team splitting them (one exchange of
    /// h per step); false when a step needs every unit of an intermediate first (MGU: U_h reads all of f ⊙ h).</summary>
    static virtual bool FusedStepSplitsUnits => true;

    /// <summary>How the runner packs W_hh for <see cref="FusedStep"/>: false, all G gates of a unit block together
    /// (<see cref="RecurrentStepKernels.PackUnitBlocks"/> with G gates); true, each gate's [H, H] rows apart as a one-gate
    /// matrix, gate g at g·<see cref="RecurrentStepKernels.PackedLength(int, int)"/>(H, 1) (a cell whose gates are two
    /// products in sequence, MGU).</summary>
    static virtual bool FusedStepPacksGatesApart => false;

    /// <summary>Whether <see cref="FusedRowsStep"/> exists: several rows per step with the gate math on the
    /// GEMM's register tile (where <see cref="RecurrentStepKernels.IsSupported"/>, H a multiple of 16).</summary>
    static virtual bool HasFusedRows => false;

    /// <summary>The fused multi-row step of rows [0, R) and units [u0, u1); w narrow unit blocks; nextGx the
    /// next step's gx to prefetch, or null; input: the step's own input projection (then gx is not read), or none;
    /// p the cell's options (e.g. sLSTM's forget gate).</summary>
    static virtual void FusedRowsStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        int rows, int hidden, int u0, int u1, float* nextGx, in StepInput input, in CellParams p) => throw new NotSupportedException();
}

/// <summary>The recurrent parameters of one layer direction as the step sees them (pointers into pinned or
/// fixed buffers, valid during one Forward / Backward call).</summary>
public unsafe struct CellWeights
{
    /// <summary>weight_hh as stored (shape per <see cref="RecurrentWeights"/>), or null when absent.</summary>
    public float* Whh;
    /// <summary>Dense only: W_hhᵀ packed for h·W_hhᵀ (K = H, N = G·H).</summary>
    public float* WhhT;
    /// <summary>Dense only, backward: W_hh packed for dG·W_hh (K = G·H, N = H).</summary>
    public float* WhhPacked;
    /// <summary>b_hh [G·H] when the cell keeps it apart, else null (folded into gx or absent).</summary>
    public float* BiasHh;
    /// <summary>Extra per-unit parameters the definition declares, in declaration order ([·, H] each), or null.</summary>
    public float* Extra;
    /// <summary>Gradient of <see cref="Extra"/> (backward only).</summary>
    public float* ExtraGrad;
    /// <summary>Forward only: the first N·H floats of <see cref="Extra"/>, E [N, H], packed for x·Eᵀ (K = H, N =
    /// <see cref="ICell.PackedExtraColumns"/>), or null.</summary>
    public float* ExtraPacked;
    /// <summary>Cell options as numbers (e.g. heads, a bound), filled by the definition.</summary>
    public CellParams Params;
}

/// <summary>A few numeric cell options (the definition fills them from its <see cref="CellOptions"/>).</summary>
public struct CellParams
{
    /// <summary>n: heads of a <see cref="RecurrentWeights.BlockDiagonal"/> weight_hh (0 or 1 otherwise).</summary>
    public int Heads;
    public int I0, I1;
    public float F0, F1;
}

/// <summary>One forward step of R rows. Buffers: prev/next [NS][R, StateLd] (state j at + j·StateStride, its
/// first W_j columns used), gx [R, G·H], saved [R, S·H] or null, scratch [R, ScratchWidth·H].</summary>
public unsafe struct CellStep
{
    public int Rows, Hidden;
    public float* Prev, Next;
    public nint StateStride;
    /// <summary>Floats between consecutive rows of every state: the widest state's width (H when all are H wide).</summary>
    public nint StateLd;
    public float* Gx, Saved, Scratch;
    public CellWeights W;
}

/// <summary>Backward of one step of R rows. dNext [NS][R, StateLd] ∂L/∂(states after the step) (h includes ∂L/∂y),
/// dPrev [NS][R, StateLd] written, state j at + j·DStride (its first W_j columns); dGx [R, G·H] written; dGh
/// [R, G·H] written when the cell keeps the recurrent pre-activation apart, else the same buffer as dGx.</summary>
public unsafe struct CellBackwardStep
{
    public int Rows, Hidden;
    public float* DNext, DPrev;
    public nint DStride;
    public float* Prev, Next;
    public nint StateStride;
    /// <summary>Floats between consecutive rows of every state and state gradient (see <see cref="CellStep.StateLd"/>).</summary>
    public nint StateLd;
    public float* Saved, DGx, DGh, Scratch;
    public CellWeights W;
}

/// <summary>After (a chunk of) the time loop, over the N rows of a run of steps of one direction in time order: dGh [N, G·H],
/// hPrev [N, W_0] (rows <see cref="HPrevLd"/> apart) the state h each step started from, saved [N, S·H];
/// dWhh the gradient of weight_hh.</summary>
public unsafe struct CellWeightGradients
{
    public int Rows, Hidden, Gates, SavedWidth;
    /// <summary>W_0: the width of h, the recurrent product's input (H unless the cell narrows h).</summary>
    public int HWidth;
    /// <summary>Floats between consecutive rows of <see cref="HPrev"/>.</summary>
    public nint HPrevLd;
    public float* DGh, HPrev, Saved, DWhh;
    public CellWeights W;
}
