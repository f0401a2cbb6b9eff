module Snn.Core.Tests.Native.LibTorchSettingsTests

open System.Runtime.InteropServices
open Expecto
open TorchSharp
open Snn.Core.Native

[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type private ContextFn = delegate of unit -> nativeint

[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type private FlagFn = delegate of nativeint -> byte

/// at::globalContext().userEnabledNNPACK() from the loaded libtorch_cpu, or None where it cannot be found.
let private nnpackEnabled () =
    torch.get_num_threads () |> ignore

    let path =
        System.IO.File.ReadLines "/proc/self/maps"
        |> Seq.map (fun l -> l.Split(' ', System.StringSplitOptions.RemoveEmptyEntries))
        |> Seq.tryFind (fun f -> f.Length >= 6 && System.IO.Path.GetFileName(f[5]).StartsWith "libtorch_cpu")

    match path with
    | Some f ->
        let lib = NativeLibrary.Load f[5]
        let context = NativeLibrary.GetExport(lib, "_ZN2at13globalContextEv")
        let getter = NativeLibrary.GetExport(lib, "_ZNK2at7Context17userEnabledNNPACKEv")
        let c = Marshal.GetDelegateForFunctionPointer<ContextFn>(context).Invoke()
        Some(Marshal.GetDelegateForFunctionPointer<FlagFn>(getter).Invoke c <> 0uy)
    | None -> None

/// A conv / batch-norm / ReLU / average-pool network like the pipeline tests' smallSpecBn with c channels
/// (4: padded by oneDNN to its channel block of 8 or 16; 16: not padded).
let private network (c: int64) =
    torch.manual_seed 3L |> ignore

    let layers: torch.nn.Module<torch.Tensor, torch.Tensor>[] =
        [| torch.nn.Conv2d(1L, c, 3L, padding = 1L)
           torch.nn.BatchNorm2d c
           torch.nn.ReLU()
           torch.nn.AvgPool2d(2L, stride = 2L)
           torch.nn.Conv2d(c, c, 3L, padding = 1L)
           torch.nn.BatchNorm2d c
           torch.nn.ReLU()
           torch.nn.AvgPool2d(2L, stride = 2L)
           torch.nn.Flatten()
           torch.nn.Linear(49L * c, 10L) |]

    torch.nn.Sequential layers

/// Four SGD steps on fixed random batches (each in its own dispose scope); the weights afterwards.
let private trainedWeights channels =
    use g = new torch.Generator(11UL)
    use net = network channels
    use sgd = torch.optim.SGD(net.parameters (), 0.05, 0.9)

    for _ in 1..4 do
        use _ = torch.NewDisposeScope()
        let x = torch.randn ([| 128L; 1L; 28L; 28L |], generator = g)
        let y = torch.randint (10L, [| 128L |], generator = g)
        sgd.zero_grad ()
        torch.nn.functional.cross_entropy(net.forward x, y).backward ()
        sgd.step () |> ignore

    net.parameters () |> Seq.map (fun p -> p.detach().clone ()) |> Array.ofSeq

/// The gradients of one batch in the given dtype (BN in training mode), as float64, by parameter name.
let private gradients channels (dtype: torch.ScalarType) =
    use _ = torch.NewDisposeScope()
    use g = new torch.Generator(11UL)
    use net = network channels
    net.``to`` dtype |> ignore
    let x = torch.randn([| 128L; 1L; 28L; 28L |], generator = g).to_type dtype
    let y = torch.randint (10L, [| 128L |], generator = g)
    torch.nn.functional.cross_entropy(net.forward x, y).backward ()

    net.named_parameters ()
    |> Seq.map (fun struct (n, p) -> n, p.grad.detach().to_type(torch.ScalarType.Float64).DetachFromDisposeScope())
    |> Array.ofSeq

let private allFinite (weights: torch.Tensor[]) =
    weights |> Array.forall (fun p -> p.isfinite().all().item<bool> ())

/// Runs f with c10's junk fill on (every new CPU allocation filled with a NaN pattern) and its zero fill
/// off (libtorch refuses both at once), then restores the process's own settings.
let private onJunkMemory f =
    let zeroBefore =
        LibTorchSettings.AllocatorFlag(LibTorchSettings.ZeroFillFlag) = System.Nullable true

    LibTorchSettings.SetAllocatorFlag(LibTorchSettings.ZeroFillFlag, false)
    |> ignore

    LibTorchSettings.SetAllocatorFlag(LibTorchSettings.JunkFillFlag, true) |> ignore

    try
        f ()
    finally
        LibTorchSettings.SetAllocatorFlag(LibTorchSettings.JunkFillFlag, false)
        |> ignore

        LibTorchSettings.SetAllocatorFlag(LibTorchSettings.ZeroFillFlag, zeroBefore)
        |> ignore

let private onLinuxX64 =
    RuntimeInformation.IsOSPlatform OSPlatform.Linux
    && RuntimeInformation.ProcessArchitecture = Architecture.X64

// Sequenced: the allocator flags are process-wide, so nothing may allocate beside these tests while
// the junk fill is on or the zero fill off.
[<Tests>]
let tests =
    testList
        "LibTorchSettings"
        [ testCase "zero-filled allocations and NNPACK off are in force in the test process"
          <| fun () ->
              if onLinuxX64 then
                  Expect.isTrue LibTorchSettings.ZeroFillApplied "zero fill applied when Snn.Core loaded"

                  Expect.equal
                      (LibTorchSettings.AllocatorFlag LibTorchSettings.ZeroFillFlag)
                      (System.Nullable true)
                      "c10's zero-fill flag"

                  Expect.isTrue LibTorchSettings.NnpackDisabled "NNPACK turned off"
                  Expect.equal (nnpackEnabled ()) (Some false) "at::globalContext().userEnabledNNPACK()"

          // The float64 pass runs libtorch's own kernels (oneDNN takes float32 only). For 4 channels the float32
          // weight gradient of the first conv was 70 % off at AVX2 and 31 % off on the first call at AVX-512.
          testCase
              "the 16-channel network's float32 gradients match a float64 pass (oneDNN's convolutions are trusted at this size)"
          <| fun () ->
              let reference = gradients 16L torch.ScalarType.Float64

              for (name, g), (_, r) in Array.zip (gradients 16L torch.ScalarType.Float32) reference do
                  // The conv biases before batch norm have a true gradient of 0 (the mean is removed).
                  if name <> "0.bias" && name <> "4.bias" then
                      let scale = r.abs().max().item<float> ()
                      let error = (g - r).abs().max().item<float> ()

                      Expect.isLessThan
                          error
                          (1e-4 * scale)
                          $"{name}: max |float32 - float64| against max |float64| = {scale}"

          testSequenced
          <| testCase
              "with the toolkit's settings, training a 16-channel conv network three times gives finite, bit-identical weights"
              (fun () ->
                  let first = trainedWeights 16L
                  Expect.isTrue (allFinite first) "finite weights"

                  for repeat in 1..2 do
                      let again = trainedWeights 16L

                      for a, b in Array.zip first again do
                          Expect.isTrue (a.allclose (b, 0.0, 0.0)) $"repeat %d{repeat}: the same weights bit for bit")

          // Why the zero fill exists: oneDNN reads padding libtorch never wrote, so the weights depend on what
          // the memory held before. Which kernels oneDNN picks for 4 channels depends on the CPU: on the AMD
          // EPYC machines of earlier rounds the junk reached the weights every time, on a 2026-12-03 one
          // (AVX-512 with bfloat16) it did not. Where it does not, the test reports itself ignored with that
          // reason rather than passing; the zero fill is then a guard, and the determinism test above holds.
          testSequenced
          <| testCase
              "on junk-filled memory without zero fill, training the 4-channel network turns non-finite (oneDNN reads uninitialised channel padding)"
              (fun () ->
                  if onLinuxX64 then
                      let finite = onJunkMemory (fun () -> allFinite (trainedWeights 4L))

                      if finite then
                          skiptest
                              "oneDNN's 4-channel kernels on this CPU did not read the junk in the channel padding (machine-dependent); nothing to show here") ]
