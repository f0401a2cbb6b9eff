using BenchmarkDotNet.Attributes;
using Snn.Core.Neurons;
using Snn.Core.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Bench;

/// <summary>
/// One IF layer of fmnist-vgg's size (32 x 28 x 28 neurons, batch 256) over T steps: the pure
/// tensor-op step (<see cref="IfNeuron.Step"/>, five passes over memory per step) against the
/// simulator's fused scan, reached through a one-layer <see cref="SpikingNetwork"/> whose
/// input current is the constant image current (so the run is the scan plus a 1x1 readout).
/// </summary>
[MemoryDiagnoser]
public class NeuronStepBenchmarks
{
    private Tensor current = null!;
    private Tensor threshold = null!;
    private Tensor potential = null!;
    private SpikingNetwork network = null!;

    /// <summary>T, the number of steps.</summary>
    [Params(4, 16)]
    public int TimeSteps { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        current = torch.rand(256, 32, 28, 28);
        threshold = torch.tensor(1.0f);
        potential = torch.full(256, 32, 28, 28, 0.5f);
        // Image -> identity-like 1x1 conv into 32 channels -> IF -> linear readout.
        using var w = torch.ones(32, 1, 1, 1);
        using var readout = torch.ones(10, 32 * 28 * 28) * 1e-3f;
        network = new SpikingNetworkBuilder([1, 28, 28])
            .Layer("if", Synapse.Conv2d(w, null), 1.0)
            .Output("out", Synapse.Linear(readout, null, flattenBefore: true))
            .Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        current.Dispose();
        threshold.Dispose();
        potential.Dispose();
        network.Dispose();
    }

    /// <summary>T steps of the pure Charge / Fire / Reset step on [256, 32, 28, 28].</summary>
    [Benchmark(Baseline = true)]
    public void TensorOpSteps()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var v = potential;
        for (var t = 0; t < TimeSteps; t++)
        {
            var (spikes, next) = IfNeuron.Step(v, current, threshold);
            using var output = spikes * threshold;
            v = next;
        }
    }

    /// <summary>The simulator on the same layer size (fused scan, constant image current computed once).</summary>
    [Benchmark]
    public void SimulatorScan()
    {
        using var scope = NewDisposeScope();
        using var images = torch.rand(256, 1, 28, 28);
        using var result = network.Run(images, TimeSteps);
    }
}
