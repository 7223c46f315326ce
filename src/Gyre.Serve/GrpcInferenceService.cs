using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Gyre.Serve.Grpc;

namespace Gyre.Serve;

/// <summary>
/// The Open Inference Protocol's gRPC service (inference.GRPCInferenceService, Protos/grpc_predict_v2.proto) over
/// the server's models: the same metadata, streams, batching and answers as the REST endpoints, through
/// <see cref="InferenceServer.RunAsync"/>. Refusals keep their one-line message with the matching status code
/// (400 INVALID_ARGUMENT, 404 NOT_FOUND, 413 RESOURCE_EXHAUSTED, 503 UNAVAILABLE); a message over --max-body is
/// RESOURCE_EXHAUSTED from the gRPC layer itself, and bytes that are not the RPC's message INVALID_ARGUMENT
/// (<see cref="GrpcMethods"/>).
/// </summary>
public sealed class GrpcInferenceService(InferenceServer server)
{
    public Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = !server.Stopping });

    public Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context)
    {
        Model(request.Name, request.Version);
        return Task.FromResult(new ModelReadyResponse { Ready = !server.Stopping });
    }

    public Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context)
    {
        var identity = InferenceServer.Identity;
        return Task.FromResult(new ServerMetadataResponse { Name = identity.Name, Version = identity.Version, Extensions = { identity.Extensions } });
    }

    public Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        var m = InferenceServer.Metadata(Model(request.Name, request.Version));
        static ModelMetadataResponse.Types.TensorMetadata Tensor(TensorMetadata t) =>
            new() { Name = t.Name, Datatype = t.Datatype, Shape = { t.Shape.Select(d => (long)d) } };
        return Task.FromResult(new ModelMetadataResponse
        {
            Name = m.Name, Versions = { m.Versions }, Platform = m.Platform,
            Inputs = { m.Inputs.Select(Tensor) }, Outputs = { m.Outputs.Select(Tensor) },
        });
    }

    public async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        try
        {
            var (model, parsed, result) = await server.RunAsync(request.ModelName, m =>
            {
                CheckVersion(m.Name, request.ModelVersion);
                return Task.FromResult(InferRequest.FromGrpc(request, m, server.Options));
            }, context.CancellationToken);
            return Response(model, parsed, result);
        }
        catch (ServeException e) { throw Refusal(e); }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "the client cancelled the request"));
        }
    }

    /// <summary>The served model <paramref name="name"/>; every model has the one version "1" (empty: the latest).</summary>
    private ServedModel Model(string name, string version)
    {
        try
        {
            var model = server.Model(name);
            CheckVersion(name, version);
            return model;
        }
        catch (ServeException e) { throw Refusal(e); }
    }

    private static void CheckVersion(string name, string version)
    {
        if (version.Length > 0 && version != "1") throw new ServeException(404, $"model '{name}' has no version '{version}' (versions: 1)");
    }

    /// <summary>A refusal as the RPC's status: the protocol's HTTP status mapped to its gRPC code, the same one line.</summary>
    internal static RpcException Refusal(ServeException e) => new(new Status(e.Status switch
    {
        404 => StatusCode.NotFound,
        413 => StatusCode.ResourceExhausted,
        503 => StatusCode.Unavailable,
        _ => StatusCode.InvalidArgument,
    }, e.Message));

    private static ModelInferResponse Response(ServedModel model, InferRequest request, StepResult result)
    {
        var response = new ModelInferResponse { ModelName = model.Name, ModelVersion = "1", Id = request.Id ?? "" };
        if (request.SequenceIdParameter is { } sid) response.Parameters["sequence_id"] = sid;
        if (request.Start) response.Parameters["sequence_start"] = new InferParameter { BoolParam = true };
        if (request.End) response.Parameters["sequence_end"] = new InferParameter { BoolParam = true };
        if (result.RowsNeeded > 0) response.Parameters["rows_needed"] = new InferParameter { Int64Param = result.RowsNeeded };
        foreach (var o in result.Outputs)
        {
            if (request.Outputs is { } wanted && !wanted.Contains(o.Name)) continue;
            var contents = new InferTensorContents();
            if (o.Values is { } v) contents.Fp32Contents.Add(v);
            if (o.Strings is { } s) contents.BytesContents.Add(s.Select(ByteString.CopyFromUtf8));
            if (o.Flags is { } b) contents.BoolContents.Add(b);
            response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor
            {
                Name = o.Name, Datatype = o.Datatype, Shape = { o.Shape.Select(d => (long)d) }, Contents = contents,
            });
        }
        return response;
    }
}

/// <summary>
/// Binds <see cref="GrpcInferenceService"/>'s six RPCs. The generated binding would read each request with a parser
/// whose failure the gRPC layer reports as UNKNOWN ("Exception was thrown by handler"), blaming no one; here a request
/// that is not its message is INVALID_ARGUMENT with the parser's one line.
/// </summary>
internal sealed class GrpcMethods : IServiceMethodProvider<GrpcInferenceService>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<GrpcInferenceService> context)
    {
        Add<ServerLiveRequest, ServerLiveResponse>(context, "ServerLive", (s, r, c) => s.ServerLive(r, c));
        Add<ServerReadyRequest, ServerReadyResponse>(context, "ServerReady", (s, r, c) => s.ServerReady(r, c));
        Add<ModelReadyRequest, ModelReadyResponse>(context, "ModelReady", (s, r, c) => s.ModelReady(r, c));
        Add<ServerMetadataRequest, ServerMetadataResponse>(context, "ServerMetadata", (s, r, c) => s.ServerMetadata(r, c));
        Add<ModelMetadataRequest, ModelMetadataResponse>(context, "ModelMetadata", (s, r, c) => s.ModelMetadata(r, c));
        Add<ModelInferRequest, ModelInferResponse>(context, "ModelInfer", (s, r, c) => s.ModelInfer(r, c));
    }

    private static void Add<TRequest, TResponse>(ServiceMethodProviderContext<GrpcInferenceService> context, string name,
        UnaryServerMethod<GrpcInferenceService, TRequest, TResponse> invoke)
        where TRequest : class, IMessage<TRequest>, new() where TResponse : class, IMessage<TResponse>, new()
    {
        var parser = new MessageParser<TRequest>(() => new TRequest());
        var request = Marshallers.Create<TRequest>(Write, payload =>
        {
            try { return parser.ParseFrom(payload.PayloadAsReadOnlySequence()); }
            catch (InvalidProtocolBufferException e)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument,
                    $"the request is not an inference.{typeof(TRequest).Name} message: {e.Message.ReplaceLineEndings(" ")}"));
            }
        });
        var response = Marshallers.Create<TResponse>(Write, payload => new MessageParser<TResponse>(() => new TResponse()).ParseFrom(payload.PayloadAsReadOnlySequence()));
        context.AddUnaryMethod(new Method<TRequest, TResponse>(MethodType.Unary, GRPCInferenceService.Descriptor.FullName, name, request, response), [], invoke);
    }

    private static void Write<T>(T message, SerializationContext context) where T : IMessage<T>
    {
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }
}

