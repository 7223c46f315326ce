using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Gyre.Classification;
using Gyre.Data;
using Gyre.Forecasting;
using Gyre.Serve;
using Gyre.Serve.Grpc;
using Xunit;

namespace Gyre.Tests.Serve;

/// <summary>
/// The Open Inference Protocol's gRPC service on 127.0.0.1 (h2c, a free port): every RPC against its REST twin,
/// streams whose answers equal the REST stream's and the offline model's, data in contents and in
/// raw_input_contents, and malformed requests each refused with its status code and one line.
/// </summary>
[Collection("serve")]
public class GrpcServiceTests(ServeFixture f)
{
    private static InferParameter Int(long v) => new() { Int64Param = v };
    private static InferParameter Str(string v) => new() { StringParam = v };
    private static InferParameter Bool(bool v) => new() { BoolParam = v };

    [Fact]
    public async Task Known_future_covariates_come_as_input_future_in_contents_or_raw_and_answer_as_over_rest()
    {
        var rows = InferenceServerTests.DailyRows(f.Daily);
        const int N = 5;
        for (int t = 0; t < 30; t++)
        {
            float[] future = [.. rows[(t + 1)..(t + 1 + N)].Select(r => r.X)];
            bool raw = t % 2 == 1;
            var request = Request("ff", [[rows[t].Y, rows[t].X]], Str("grpc-ff"), start: t == 0, raw: raw);
            var ft = new ModelInferRequest.Types.InferInputTensor { Name = "future", Datatype = "FP32", Shape = { N, 1 } };
            request.Inputs.Add(ft);
            if (raw) request.RawInputContents.Add(ByteString.CopyFrom([.. future.SelectMany(v => BitConverter.GetBytes(v))]));
            else ft.Contents = new InferTensorContents { Fp32Contents = { future } };
            var answer = await f.Grpc.ModelInferAsync(request);
            var rest = System.Text.Json.Nodes.JsonNode.Parse(ServeFixture.Body([[rows[t].Y, rows[t].X]], "rest-ff", start: t == 0))!;
            rest["inputs"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject
            {
                ["name"] = "future", ["datatype"] = "FP32", ["shape"] = new System.Text.Json.Nodes.JsonArray(N, 1),
                ["data"] = new System.Text.Json.Nodes.JsonArray([.. future.Select(v => (System.Text.Json.Nodes.JsonNode)System.Text.Json.Nodes.JsonValue.Create(v))]),
            });
            var (status, body) = await ServeFixture.Infer(f.Http, "ff", rest.ToJsonString());
            Assert.True(status == 200, body.ToString());
            if (t + 1 < 14) { Assert.Empty(answer.Outputs); continue; }
            Assert.Equal(ServeFixture.Output(body, "forecast"), Output(answer, "forecast"));
        }
        var wrong = Request("ff", [[1f, 2f]], Str("grpc-ff"));
        wrong.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "future", Datatype = "FP32", Shape = { N, 1 }, Contents = new InferTensorContents { Fp32Contents = { 1f, 2f } } });
        var e = await Assert.ThrowsAsync<RpcException>(() => f.Grpc.ModelInferAsync(wrong).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("input 'future'", e.Status.Detail);
    }

    [Fact]
    public async Task Server_reflection_lists_the_service_and_describes_its_file_over_v1_and_v1alpha()
    {
        // v1: list the services, then the file that declares the inference service.
        var v1 = new global::Grpc.Reflection.V1.ServerReflection.ServerReflectionClient(f.Channel);
        using (var call = v1.ServerReflectionInfo())
        {
            await call.RequestStream.WriteAsync(new() { ListServices = "" });
            Assert.True(await call.ResponseStream.MoveNext());
            var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToArray();
            Assert.Contains("inference.GRPCInferenceService", names);
            Assert.Contains("grpc.reflection.v1.ServerReflection", names);
            await call.RequestStream.WriteAsync(new() { FileContainingSymbol = "inference.GRPCInferenceService" });
            Assert.True(await call.ResponseStream.MoveNext());
            var files = call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
                .Select(b => global::Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(b)).ToArray();
            var service = Assert.Single(files.Where(d => d.Package == "inference").SelectMany(d => d.Service));
            Assert.Equal("GRPCInferenceService", service.Name);
            Assert.Equal(["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"], service.Method.Select(m => m.Name));
            // An unknown symbol is an error in the reflection response, not a failed call.
            await call.RequestStream.WriteAsync(new() { FileContainingSymbol = "inference.Nope" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal((int)StatusCode.NotFound, call.ResponseStream.Current.ErrorResponse.ErrorCode);
            await call.RequestStream.CompleteAsync();
        }
        // v1alpha, which older grpcurl builds ask for.
        var alpha = new global::Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(f.Channel);
        using (var call = alpha.ServerReflectionInfo())
        {
            await call.RequestStream.WriteAsync(new() { ListServices = "" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Contains("inference.GRPCInferenceService", call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
            await call.RequestStream.CompleteAsync();
        }
    }

    /// <summary>A request of rows of x (and times): in contents, or as little-endian bytes in raw_input_contents.</summary>
    private static ModelInferRequest Request(string model, float[][] rows, InferParameter? sequence = null, bool start = false, bool end = false,
        long[]? times = null, bool raw = false)
    {
        var request = new ModelInferRequest { ModelName = model, Id = "g" };
        float[] x = [.. rows.SelectMany(r => r)];
        var xt = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { rows.Length, rows[0].Length } };
        request.Inputs.Add(xt);
        if (raw) request.RawInputContents.Add(ByteString.CopyFrom([.. x.SelectMany(v => BitConverter.GetBytes(v))]));
        else xt.Contents = new InferTensorContents { Fp32Contents = { x } };
        if (times != null)
        {
            var tt = new ModelInferRequest.Types.InferInputTensor { Name = "time", Datatype = "INT64", Shape = { times.Length } };
            request.Inputs.Add(tt);
            if (raw) request.RawInputContents.Add(ByteString.CopyFrom([.. times.SelectMany(v => BitConverter.GetBytes(v))]));
            else tt.Contents = new InferTensorContents { Int64Contents = { times } };
        }
        if (sequence != null) request.Parameters["sequence_id"] = sequence;
        if (start) request.Parameters["sequence_start"] = Bool(true);
        if (end) request.Parameters["sequence_end"] = Bool(true);
        return request;
    }

    private static float[] Output(ModelInferResponse response, string name) =>
        [.. (response.Outputs.FirstOrDefault(o => o.Name == name) ?? throw new Xunit.Sdk.XunitException($"no output '{name}' in {response}")).Contents.Fp32Contents];

    [Fact]
    public async Task Every_rpc_but_infer_answers_as_its_rest_twin()
    {
        Assert.True((await f.Grpc.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await f.Grpc.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var meta = await f.Grpc.ServerMetadataAsync(new ServerMetadataRequest());
        using (var rest = JsonDocument.Parse(await f.Http.GetStringAsync("v2")))
        {
            Assert.Equal(rest.RootElement.GetProperty("name").GetString(), meta.Name);
            Assert.Equal(rest.RootElement.GetProperty("version").GetString(), meta.Version);
            Assert.Equal(rest.RootElement.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()!), meta.Extensions);
            Assert.Contains("sequence", meta.Extensions);
        }
        foreach (var name in f.Server.Models.Keys)
        {
            Assert.True((await f.Grpc.ModelReadyAsync(new ModelReadyRequest { Name = name })).Ready);
            Assert.True((await f.Grpc.ModelReadyAsync(new ModelReadyRequest { Name = name, Version = "1" })).Ready);
            var m = await f.Grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = name });
            using var rest = JsonDocument.Parse(await f.Http.GetStringAsync($"v2/models/{name}"));
            var r = rest.RootElement;
            Assert.Equal(name, m.Name);
            Assert.Equal(["1"], m.Versions);
            Assert.Equal(r.GetProperty("platform").GetString(), m.Platform);
            foreach (var (tensors, field) in new[] { (m.Inputs, "inputs"), (m.Outputs, "outputs") })
            {
                var want = r.GetProperty(field).EnumerateArray().ToArray();
                Assert.Equal(want.Length, tensors.Count);
                for (int i = 0; i < want.Length; i++)
                {
                    Assert.Equal(want[i].GetProperty("name").GetString(), tensors[i].Name);
                    Assert.Equal(want[i].GetProperty("datatype").GetString(), tensors[i].Datatype);
                    Assert.Equal(want[i].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), tensors[i].Shape);
                }
            }
        }
        Assert.Equal([-1L, 2L], (await f.Grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = "fc" })).Inputs[0].Shape);
        var missing = await Assert.ThrowsAsync<RpcException>(() => f.Grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = "nope" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no model 'nope'", missing.Status.Detail);
        var version = await Assert.ThrowsAsync<RpcException>(() => f.Grpc.ModelReadyAsync(new ModelReadyRequest { Name = "cs", Version = "2" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, version.StatusCode);
        Assert.Contains("no version '2'", version.Status.Detail);
    }

    [Fact]
    public async Task A_forecast_stream_of_100_steps_equals_the_rest_stream_and_offline_predict()
    {
        var rows = InferenceServerTests.DailyRows(f.Daily);
        var forecaster = Forecaster.Load(f.Dir["fc.gyre"]);
        int lookback = forecaster.Options.Lookback;
        var lines = File.ReadAllLines(f.Daily);
        for (int t = 0; t < 100; t++)
        {
            float[][] x = [[rows[t].Y, rows[t].X]];
            long[] time = [InferenceServerTests.Unix(rows[t].Date)];
            // Every other step sends its data as raw bytes: a stream may mix the two.
            var answer = await f.Grpc.ModelInferAsync(Request("fc", x, Str("grpc-store"), start: t == 0, end: t == 99, times: time, raw: t % 2 == 1));
            var (status, rest) = await ServeFixture.Infer(f.Http, "fc", ServeFixture.Body(x, "rest-store", start: t == 0, end: t == 99, times: time));
            Assert.True(status == 200, rest.ToString());
            Assert.Equal("g", answer.Id);
            Assert.Equal("grpc-store", answer.Parameters["sequence_id"].StringParam);
            if (t + 1 < lookback)
            {
                Assert.Equal(lookback - t - 1, answer.Parameters["rows_needed"].Int64Param);
                Assert.Empty(answer.Outputs);
                continue;
            }
            var served = Output(answer, "forecast");
            var restForecast = ServeFixture.Output(rest, "forecast");
            Assert.Equal(restForecast.Length, served.Length);
            var restShape = rest.GetProperty("outputs").EnumerateArray().First(o => o.GetProperty("name").GetString() == "forecast").GetProperty("shape");
            Assert.Equal(restShape.EnumerateArray().Select(d => d.GetInt64()), answer.Outputs.First(o => o.Name == "forecast").Shape);
            for (int h = 0; h < served.Length; h++) InferenceServerTests.AssertClose(restForecast[h], served[h], $"row {t}, step {h + 1} (REST)");
            if (t % 11 != 0 && t != 99) continue;
            string prefix = f.Dir.Write($"grpc-prefix{t}.csv", string.Join('\n', lines.Take(t + 2)) + "\n");
            var offline = forecaster.Predict(forecaster.LoadData(prefix));
            File.Delete(prefix);
            for (int h = 0; h < served.Length; h++) InferenceServerTests.AssertClose(offline.Rows[h].Values[0], served[h], $"row {t}, step {h + 1} (offline)");
        }
        // sequence_end freed the stream.
        var ended = await Assert.ThrowsAsync<RpcException>(() => f.Grpc.ModelInferAsync(Request("fc", [[1f, 2f]], Str("grpc-store"), times: [InferenceServerTests.Unix(rows[100].Date)])).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, ended.StatusCode);
    }

    [Fact]
    public async Task A_stepped_classify_stream_in_raw_bytes_equals_offline_predict_on_each_prefix()
    {
        var classifier = SequenceClassifier.Load(f.Dir["cs.gyre"]);
        var test = TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TEST.ts"));
        var values = test.Cases[2].Values;
        int sent = 0;
        while (sent < 100)
        {
            int k = 1 + sent % 3 % 2;
            float[][] rows = [.. Enumerable.Range(sent, k).Select(r => new[] { values[r] })];
            var answer = await f.Grpc.ModelInferAsync(Request("cs", rows, Int(77_001), start: sent == 0, end: sent + k == 100, raw: true));
            sent += k;
            var offline = classifier.Predict(InferenceServerTests.Prefix(test, 2, sent));
            var probs = Output(answer, "probabilities");
            Assert.Equal(offline.Probabilities.Length, probs.Length);
            for (int j = 0; j < probs.Length; j++) InferenceServerTests.AssertClose(offline.Probabilities[j], probs[j], $"after {sent} rows, class {j}");
            var label = answer.Outputs.First(o => o.Name != "probabilities");
            Assert.Equal("BYTES", label.Datatype);
            Assert.Equal(classifier.Classes[offline.Classes[0]], label.Contents.BytesContents[0].ToStringUtf8());
        }
        // The outputs filter keeps only the named output.
        var only = await f.Grpc.ModelInferAsync(new ModelInferRequest(Request("cw", [.. values[..30].Select(v => new[] { v })]))
        {
            Outputs = { new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "probabilities" } },
        });
        Assert.Equal(["probabilities"], only.Outputs.Select(o => o.Name));
    }

    private static ModelInferRequest X(string model, int rows, int width, Action<ModelInferRequest>? change = null, bool sequence = true)
    {
        var r = Request(model, [.. Enumerable.Range(0, rows).Select(i => Enumerable.Repeat(0.5f + i, width).ToArray())], sequence ? Int(88_000) : null, start: sequence);
        change?.Invoke(r);
        return r;
    }

    private static ModelInferRequest.Types.InferInputTensor First(ModelInferRequest r) => r.Inputs[0];

    public static TheoryData<string, int, string> Malformed() => new()
    {
        // what, index into Cases, fragment of the message (status code from Cases)
        { "unknown model", 0, "no model 'nope'" },
        { "unknown version", 1, "has no version '7'" },
        { "no inputs", 2, "no 'inputs'" },
        { "unknown input", 3, "no input 'y'" },
        { "wrong datatype", 4, "must be FP32, got datatype INT32" },
        { "wrong width", 5, "must have shape [-1, 1], got [1, 3]" },
        { "negative shape", 6, "shape[0] must be a non-negative integer, got -1" },
        { "data shorter than the shape", 7, "has 2 data elements, its shape [3, 1] needs 3" },
        { "NaN in fp32_contents", 8, "is not a finite FP32 value" },
        { "data in the wrong contents field", 9, "its data go in contents.fp32_contents" },
        { "raw bytes of the wrong length", 10, "raw_input_contents has 3 bytes, its shape [1, 1] needs 4" },
        { "raw entries not one per input", 11, "raw_input_contents has 2 entries for 1 inputs" },
        { "data both in contents and raw", 12, "both in 'contents' and in raw_input_contents[0]" },
        { "missing sequence_id on a stateful model", 13, "give parameters.sequence_id" },
        { "sequence_id a boolean", 14, "sequence_id must be a positive integer or a non-empty string of at most 256 characters, got bool_param true" },
        { "sequence_start an integer", 15, "sequence_start must be true or false, got int64_param 1" },
        { "a sequence never started", 16, "is not live" },
        { "unknown output", 17, "no output 'logits'" },
        { "missing time on a calendar model", 18, "needs input 'time'" },
        { "a window too short without a sequence", 19, "needs at least 14 rows" },
        { "more elements than --max-elements", 20, "more than --max-elements" },
        { "sequence_end without an id", 21, "need a parameters.sequence_id" },
    };

    private static readonly (StatusCode Code, Func<ModelInferRequest> Make)[] Cases =
    [
        (StatusCode.NotFound, () => X("nope", 1, 1)),
        (StatusCode.NotFound, () => X("cs", 1, 1, r => r.ModelVersion = "7")),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => r.Inputs.Clear())),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => First(r).Name = "y")),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => First(r).Datatype = "INT32")),
        (StatusCode.InvalidArgument, () => X("cs", 1, 3)),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => First(r).Shape[0] = -1)),
        (StatusCode.InvalidArgument, () => X("cs", 2, 1, r => First(r).Shape[0] = 3)),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => First(r).Contents.Fp32Contents[0] = float.NaN)),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => First(r).Contents = new InferTensorContents { IntContents = { 1 } })),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => { First(r).Contents = null; r.RawInputContents.Add(ByteString.CopyFrom(1, 2, 3)); })),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => { First(r).Contents = null; r.RawInputContents.Add(ByteString.CopyFrom(new byte[4])); r.RawInputContents.Add(ByteString.CopyFrom(new byte[4])); })),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => r.RawInputContents.Add(ByteString.CopyFrom(new byte[4])))),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, sequence: false)),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => r.Parameters["sequence_id"] = Bool(true))),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => r.Parameters["sequence_start"] = Int(1))),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => { r.Parameters["sequence_id"] = Int(123_456_789); r.Parameters.Remove("sequence_start"); })),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => r.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "logits" }))),
        (StatusCode.InvalidArgument, () => X("fc", 1, 2)),
        (StatusCode.InvalidArgument, () => Request("fc", [[1f, 2f]], times: [0])),
        (StatusCode.ResourceExhausted, () => X("cs", 1, 1, r => First(r).Shape[0] = 2_000_000)),
        (StatusCode.InvalidArgument, () => X("cs", 1, 1, r => { r.Parameters.Clear(); r.Parameters["sequence_end"] = Bool(true); })),
    ];

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_request_is_refused_with_its_status_code_and_one_line(string what, int index, string fragment)
    {
        var (code, make) = Cases[index];
        var e = await Assert.ThrowsAsync<RpcException>(() => f.Grpc.ModelInferAsync(make()).ResponseAsync);
        Assert.True(code == e.StatusCode, $"{what}: {e.StatusCode} {e.Status.Detail}");
        Assert.Contains(fragment, e.Status.Detail);
        Assert.DoesNotContain('\n', e.Status.Detail);
        Assert.True((await f.Grpc.ServerLiveAsync(new ServerLiveRequest())).Live);
    }

    [Fact]
    public async Task Bytes_that_are_not_a_request_message_are_invalid_argument()
    {
        var raw = new Marshaller<byte[]>(b => b, b => b);
        var method = new Method<byte[], byte[]>(MethodType.Unary, "inference.GRPCInferenceService", "ModelInfer", raw, raw);
        var e = await Assert.ThrowsAsync<RpcException>(() => f.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(), [0xFF, 0xFF, 0xFF, 0x01, 0x02]).ResponseAsync);
        Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"{e.StatusCode}: {e.Status.Detail}");
        Assert.Contains("is not an inference.ModelInferRequest message", e.Status.Detail);
        Assert.DoesNotContain('\n', e.Status.Detail);
        Assert.True((await f.Grpc.ServerLiveAsync(new ServerLiveRequest())).Live);
    }

    [Fact]
    public async Task A_message_over_max_body_is_resource_exhausted_and_a_full_stream_table_unavailable()
    {
        await using var server = await f.Start(new ServeOptions { MaxStreams = 1, MaxBodyBytes = 4096, GrpcPort = 0 });
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress!);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var big = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(X("cs", 2000, 1)).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, big.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace(big.Status.Detail));
        Assert.NotEmpty((await client.ModelInferAsync(Request("cs", [[0.1f]], Int(1), start: true))).Outputs);
        var full = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(Request("cs", [[0.1f]], Int(2), start: true)).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, full.StatusCode);
        Assert.Contains("--max-streams", full.Status.Detail);
        // The REST port does not speak gRPC, and the gRPC port is another one.
        Assert.NotEqual(server.Address.Port, server.GrpcAddress!.Port);
    }
}
