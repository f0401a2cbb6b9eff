using BenchmarkDotNet.Running;

// Micro-benchmarks of the hot elementwise kernels. The end-to-end figures (sim_ratio, training
// epoch ratios, Phase II share, peak working set) come from `snn bench`; see docs/PERFORMANCE.md.
// Run: dotnet run -c Release --project bench/Snn.Bench -- --filter '*'
Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility();
BenchmarkSwitcher.FromAssembly(typeof(Snn.Bench.NeuronStepBenchmarks).Assembly).Run(args);
