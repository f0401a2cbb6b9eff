using BenchmarkDotNet.Running;

// Micro-benchmarks of the hot elementwise kernels. The end-to-end figures (sim_ratio, training
// epoch ratios, Phase II share, peak working set) come from `snn bench`; see docs/PERFORMANCE.md.
// Run: dotnet run -c Release --project bench/Snn.Bench -- --filter '*'
// Quick side-by-side activation timing (medians of N interleaved rounds, no BenchmarkDotNet):
//      dotnet run -c Release --project bench/Snn.Bench -- --quick-activations [N = 15]
Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility();
if (args.Length > 0 && args[0] == "--quick-activations")
{
    Snn.Bench.QuickActivationTiming.Run(args.Length > 1 ? int.Parse(args[1]) : 15);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Snn.Bench.NeuronStepBenchmarks).Assembly).Run(args);
