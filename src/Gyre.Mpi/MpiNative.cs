using System.Runtime.InteropServices;

namespace Gyre.Mpi;

/// <summary>
/// The few entry points of the MPI C ABI that data-parallel training needs, resolved from Open MPI's
/// <c>libmpi.so.40</c> at run time (so a machine without Open MPI gets one clear message instead of a
/// <see cref="DllNotFoundException"/> from deep inside training).
/// <para>
/// Open MPI's predefined handles are not integer constants as in MPICH: <c>MPI_COMM_WORLD</c> is
/// <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c> is <c>&amp;ompi_mpi_float</c>, <c>MPI_SUM</c> is
/// <c>&amp;ompi_mpi_op_sum</c>, so the handle is the address of an exported data symbol, which
/// <see cref="NativeLibrary.GetExport"/> returns. <c>MPI_IN_PLACE</c> is <c>(void*)1</c> in Open MPI's mpi.h.
/// </para>
/// </summary>
internal sealed unsafe class MpiNative
{
    /// <summary>The library name Open MPI 4 and 5 install on Debian (package libopenmpi3 / openmpi-bin).</summary>
    public const string DefaultLibrary = "libmpi.so.40";

    public const int Success = 0;
    public const int ThreadSerialized = 2;   // MPI_THREAD_SERIALIZED in Open MPI's enum
    public static readonly nint InPlace = 1; // MPI_IN_PLACE

    public readonly nint Library;
    public readonly nint CommWorld, Float, Double, Int, Byte, Sum, Max;

    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;
    public readonly delegate* unmanaged<double> Wtime;

    private MpiNative(nint library)
    {
        Library = library;
        CommWorld = Export("ompi_mpi_comm_world");
        Float = Export("ompi_mpi_float");
        Double = Export("ompi_mpi_double");
        Int = Export("ompi_mpi_int");
        Byte = Export("ompi_mpi_byte");
        Sum = Export("ompi_mpi_op_sum");
        Max = Export("ompi_mpi_op_max");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        Wtime = (delegate* unmanaged<double>)Export("MPI_Wtime");
    }

    private nint Export(string name) =>
        NativeLibrary.TryGetExport(Library, name, out nint address) ? address
            : throw new MpiUnavailableException($"{DefaultLibrary} has no symbol '{name}': Gyre's MPI binding needs Open MPI 4 or 5 (Debian: apt-get install openmpi-bin)");

    /// <summary>Loads the library, or throws <see cref="MpiUnavailableException"/> naming the package to install.</summary>
    public static MpiNative Load(string library = DefaultLibrary)
    {
        if (!OperatingSystem.IsLinux())
            throw new MpiUnavailableException("distributed training runs on Linux with Open MPI (libmpi.so.40); this is " + RuntimeInformation.OSDescription);
        if (!NativeLibrary.TryLoad(library, out nint handle))
            throw new MpiUnavailableException($"cannot load {library}: install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin) and start the job with mpirun");
        return new MpiNative(handle);
    }

    /// <summary>Throws <see cref="MpiException"/> with MPI's own error text when <paramref name="code"/> is not MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code == Success) return;
        var text = stackalloc byte[512];   // MPI_MAX_ERROR_STRING is 256 in Open MPI
        int length = 0;
        string message = ErrorString(code, text, &length) == Success
            ? System.Text.Encoding.UTF8.GetString(text, Math.Clamp(length, 0, 512)) : $"error code {code}";
        throw new MpiException($"{call} failed: {message}");
    }
}

/// <summary>Open MPI is not installed or not usable here; the message says what to install.</summary>
public sealed class MpiUnavailableException(string message) : Exception(message);

/// <summary>An MPI call returned an error (with MPI's own description).</summary>
public sealed class MpiException(string message) : Exception(message);
