using BenchmarkDotNet.Attributes;
using Snn.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Bench;

/// <summary>
/// The exact error decomposition (float64) of one layer of [256, 32, 28, 28] neurons at T = 4, and its
/// summary: the one-pass kernel on float32 inputs against the whole-tensor float64 form (taken for float64 inputs).
/// </summary>
[MemoryDiagnoser]
public class ErrorDecompositionBenchmarks
{
    private Tensor meanInput = null!;
    private Tensor rate = null!;
    private Tensor threshold = null!;
    private Tensor initialPotential = null!;
    private Tensor finalPotential = null!;
    private Tensor[] float64 = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        meanInput = torch.randn(256, 32, 28, 28) * 2;
        rate = (torch.randint(0, 5, [256, 32, 28, 28]) * 0.25f).to_type(ScalarType.Float32);
        threshold = torch.tensor(1.0f);
        initialPotential = torch.full(32, 28, 28, 0.5f);
        finalPotential = torch.randn(256, 32, 28, 28);
        float64 = [.. new[] { meanInput, rate, threshold, initialPotential, finalPotential }.Select(t => t.to_type(ScalarType.Float64))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        meanInput.Dispose();
        rate.Dispose();
        threshold.Dispose();
        initialPotential.Dispose();
        finalPotential.Dispose();
        foreach (var t in float64)
        {
            t.Dispose();
        }
    }

    [Benchmark]
    public void Decompose()
    {
        using var terms = ErrorDecomposition.Decompose(meanInput, rate, threshold, 4);
    }

    [Benchmark]
    public LayerErrorSummary SummarizeFused() =>
        ErrorDecomposition.Summarize(meanInput, rate, threshold, 4, initialPotential, finalPotential);

    [Benchmark(Baseline = true)]
    public LayerErrorSummary SummarizeTensorForm() =>
        ErrorDecomposition.Summarize(float64[0], float64[1], float64[2], 4, float64[3], float64[4]);
}
