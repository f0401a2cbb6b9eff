Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility();
Console.WriteLine("snn bench: not yet implemented");
return 1;
