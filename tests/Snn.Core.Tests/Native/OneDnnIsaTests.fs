module Snn.Core.Tests.Native.OneDnnIsaTests

open System.Runtime.InteropServices
open Expecto
open TorchSharp
open Snn.Core.Native

[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type private ContextFn = delegate of unit -> nativeint

[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type private FlagFn = delegate of nativeint -> byte

[<DllImport("libc", EntryPoint = "getenv")>]
extern nativeint private getenv(string name)

/// The native environment's value of a variable (what oneDNN reads), or None.
let private nativeVariable name =
    match getenv name with
    | 0n -> None
    | p -> Some(Marshal.PtrToStringUTF8 p)

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

/// A conv / batch-norm / ReLU / average-pool network like the pipeline tests' smallSpecBn.
let private network () =
    torch.manual_seed 3L |> ignore

    let layers: torch.nn.Module<torch.Tensor, torch.Tensor>[] =
        [| torch.nn.Conv2d(1L, 4L, 3L, padding = 1L)
           torch.nn.BatchNorm2d 4L
           torch.nn.ReLU()
           torch.nn.AvgPool2d(2L, stride = 2L)
           torch.nn.Conv2d(4L, 4L, 3L, padding = 1L)
           torch.nn.BatchNorm2d 4L
           torch.nn.ReLU()
           torch.nn.AvgPool2d(2L, stride = 2L)
           torch.nn.Flatten()
           torch.nn.Linear(196L, 10L) |]

    torch.nn.Sequential layers

/// Four SGD steps on fixed random batches; the weights afterwards.
let private trainedWeights (batches: (torch.Tensor * torch.Tensor)[]) =
    use net = network ()
    use sgd = torch.optim.SGD(net.parameters (), 0.05, 0.9)

    for x, y in batches do
        sgd.zero_grad ()
        torch.nn.functional.cross_entropy(net.forward x, y).backward ()
        sgd.step () |> ignore

    net.parameters () |> Seq.map (fun p -> p.detach().clone ()) |> Array.ofSeq

[<Tests>]
let tests =
    testList
        "OneDnnIsa"
        [ testCase "the test process runs with oneDNN capped at AVX2 (or the user's own choice)"
          <| fun () ->
              if RuntimeInformation.IsOSPlatform OSPlatform.Linux then
                  match nativeVariable OneDnnIsa.NewVariable with
                  | Some _ -> ()
                  | None -> Expect.isSome (nativeVariable OneDnnIsa.Variable) "set in the native environment"

          testCase
              "where the cap was applied NNPACK is off (it cannot start on these machines and warns per convolution)"
          <| fun () ->
              let userChose =
                  System.Environment.GetEnvironmentVariable OneDnnIsa.Variable <> null
                  || System.Environment.GetEnvironmentVariable OneDnnIsa.NewVariable <> null

              if RuntimeInformation.IsOSPlatform OSPlatform.Linux && not userChose then
                  Expect.equal (nnpackEnabled ()) (Some false) "at::globalContext().userEnabledNNPACK()"

          // Without the cap, on the AMD EPYC machines this project runs on, 10 of 10 repeats differed.
          testCase "training a conv / batch-norm network twice from one seed gives bit-identical, finite weights"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(11UL)

              let batches =
                  Array.init 4 (fun _ ->
                      torch.randn ([| 128L; 1L; 28L; 28L |], generator = g),
                      torch.randint (10L, [| 128L |], generator = g))

              let first = trainedWeights batches

              for p in first do
                  Expect.isTrue (p.isfinite().all().item<bool> ()) "finite weights"

              for repeat in 1..3 do
                  let again = trainedWeights batches

                  for a, b in Array.zip first again do
                      Expect.isTrue (a.allclose (b, 0.0, 0.0)) $"repeat %d{repeat}: the same weights bit for bit" ]
