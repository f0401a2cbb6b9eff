using BenchmarkDotNet.Attributes;
using Snn.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Bench;

/// <summary>The exact error decomposition (float64) of one layer of [256, 32, 28, 28] neurons at T = 4.</summary>
[MemoryDiagnoser]
public class ErrorDecompositionBenchmarks
{
    private Tensor meanInput = null!;
    private Tensor rate = null!;
    private Tensor threshold = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        meanInput = torch.randn(256, 32, 28, 28) * 2;
        rate = (torch.randint(0, 5, [256, 32, 28, 28]) * 0.25f).to_type(ScalarType.Float32);
        threshold = torch.tensor(1.0f);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        meanInput.Dispose();
        rate.Dispose();
        threshold.Dispose();
    }

    [Benchmark]
    public void Decompose()
    {
        using var terms = ErrorDecomposition.Decompose(meanInput, rate, threshold, 4);
    }
}
