using Microsoft.ML.OnnxRuntime;
using MLNetDeep.Data;
using MLNetDeep.Inference;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;

namespace MLNetDeep.Onnx.Engine;

/// <summary>
/// What <see cref="ScoringEngineSlot"/> finds by name to score a <see cref="DeepTransformer"/> with ONNX Runtime: the
/// model's batch graph, cut to its Score output, in one session.
/// </summary>
internal sealed class OnnxRuntimeScoringRoute : IOnnxRuntimeScoringRoute
{
    public IScoringBackend Create(DeepTransformer model, int intraOpThreads)
    {
        const string action = "Scoring an MLNetDeep model with ONNX Runtime (DeepTransformer.ScoringEngine)";
        OnnxRuntimeNatives.EnsureAvailable(action);
        var layout = model.Layout;
        var spec = model.Spec;
        var graph = model.WithWeights(() => ScoreGraph(model));
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try
        {
            var session = new InferenceSession(graph, options);
            return new OnnxRuntimeBackend(session, options, layout, spec.OutputSize, spec.Kind == PredictionKind.SequenceTagging,
                $"{intraOpThreads} intra-op thread{(intraOpThreads == 1 ? "" : "s")}");
        }
        catch (Exception e)
        {
            options.Dispose();
            if (OnnxRuntimeNatives.IsMissing(e)) throw OnnxRuntimeNatives.Missing(action, e);
            throw;
        }
    }

    /// <summary>
    /// The model's batch graph (sequence models with the Lengths input, rows cut to MaxLength by the engine) with only the
    /// Score output and the nodes it needs: the per-row values the transformer's columns are read from.
    /// </summary>
    internal static byte[] ScoreGraph(DeepTransformer model)
    {
        var options = new OnnxExportOptions
        {
            InputName = OnnxRuntimeBackend.InputName,
            SequenceLengthsInput = model.Layout is SequenceLayout,
            InputPreTruncated = true,
        };
        var proto = OnnxExporter.Build(model, options, OnnxGraphForm.Batch);
        proto.Graph.Outputs.RemoveAll(o => o.Name != OnnxNames.Score);
        var needed = GraphPruning.Prune(proto.Graph, new[] { OnnxNames.Score });
        proto.Graph.ValueInfo.RemoveAll(v => !needed.Contains(v.Name));
        return ProtoWriter.Serialize(proto);
    }
}
