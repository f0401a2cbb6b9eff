using BenchmarkDotNet.Attributes;
using Snn.Core.Activations;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Bench;

/// <summary>
/// Forward + backward of the Phase-I activations against ReLU on a [128, 32, 28, 28] activation
/// (the largest of fmnist-vgg at training batch 128): the elementwise share of a training step.
/// The composite forms (chains of torch elementwise operations) sit beside the fused single-node
/// kernels of <see cref="FusedActivations"/> that the modules use for float32 CPU input.
/// </summary>
[MemoryDiagnoser]
public class ActivationBenchmarks
{
    private Tensor input = null!;
    private Tensor threshold = null!;
    private Tensor gradient = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        input = (torch.randn(128, 32, 28, 28) * 3).requires_grad_(true);
        threshold = torch.tensor(5.0f).requires_grad_(true);

        // dL/dy as the next layer would hand it back: a dense contiguous tensor.
        gradient = torch.randn(128, 32, 28, 28);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        input.Dispose();
        threshold.Dispose();
        gradient.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Relu() => Backward(nn.functional.relu(input));

    [Benchmark]
    public void Clip() => Backward(ClipActivation.Functional.Clip(input, threshold));

    [Benchmark]
    public void QuantizeClip() => Backward(QuantizeClipActivation.Functional.QuantizeClip(input, threshold, 4));

    [Benchmark]
    public void NoisyQuantizeClip() => Backward(QuantizeClipActivation.Functional.NoisyQuantizeClip(input, threshold, 4, 0.1));

    [Benchmark]
    public void FusedClip() => Backward(FusedActivations.Clip(input, threshold));

    [Benchmark]
    public void FusedQuantizeClip() => Backward(FusedActivations.QuantizeClip(input, threshold, 4));

    [Benchmark]
    public void FusedNoisyQuantizeClip() => Backward(FusedActivations.NoisyQuantizeClip(input, threshold, 4, 0.1));

    private void Backward(Tensor output)
    {
        using var scope = NewDisposeScope();
        scope.Attach(output);
        output.backward([gradient]);
        input.grad?.zero_();
        threshold.grad?.zero_();
    }
}
