module Snn.Dsl.Tests.FoldTests

open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Tests.Common

let private randomizeBatchNorm (net: CompiledNetwork) =
    use _ = torch.no_grad ()

    for l in net.Leaves do
        match l.Module with
        | :? Modules.BatchNorm as b ->
            b.running_mean.copy_ (torch.randn_like b.running_mean) |> ignore
            b.running_var.copy_ (torch.rand_like b.running_var * 1.5 + 0.5) |> ignore
            b.weight.copy_ (torch.randn_like b.weight) |> ignore
            b.bias.copy_ (torch.randn_like b.bias) |> ignore
        | _ -> ()

let private foldCases = 150

// Sequenced: the property seeds torch's process-wide generator per case (weights from the modules' own
// initialisation); tests running in parallel would draw from the same generator in between, so a
// failing case would not replay from its seed.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "Fold"
        [ test "foldSpec drops every BN and gives the layer before it a bias" {
              let folded = Fold.foldSpec Presets.fmnistVgg
              Expect.isFalse (List.contains BatchNorm folded.Layers) "no BN"

              Expect.all
                  folded.Layers
                  (function
                  | Conv c -> c.Bias
                  | _ -> true)
                  "biases"

              let info =
                  Network.validate folded |> Result.defaultWith (fun es -> failtest $"%A{es}")
              // 437,226 minus BN's 2 * (32 + 32 + 64 + 64 + 128) = 640
              Expect.equal info.Parameters (437_226L - 640L) "parameters"
          }

          test "folding keeps the network on its device" {
              // libtorch's meta device has shapes and no data: copying from it into a CPU tensor fails,
              // so a folded network built on the CPU would fail here as it would on a GPU.
              let meta = torch.Device DeviceType.META

              use net =
                  match Compile.compile (Clip 2.0) (Presets.resnet20 10) with
                  | Ok n -> Compile.toDevice meta n
                  | Error es -> failtest $"%A{es}"

              net.eval ()
              use folded = Fold.foldBatchNorm net

              let devices =
                  Seq.append (folded.parameters () |> Seq.cast<torch.Tensor>) (folded.buffers ())
                  |> Seq.map _.device_type
                  |> Seq.distinct
                  |> List.ofSeq

              Expect.equal devices [ DeviceType.META ] "every tensor on the source's device"
          }

          test "folded ResNet-20 blocks have no BN, biased convs, and the same shapes" {
              let spec = Presets.resnet20 10
              let folded = Fold.foldSpec spec

              Expect.all
                  folded.Layers
                  (function
                  | Residual r -> not r.BatchNorm
                  | BatchNorm -> false
                  | _ -> true)
                  "no BN anywhere"

              let shapes s =
                  Network.validate s |> Result.map (fun i -> i.Layers |> List.map _.OutputShape)

              Expect.equal (shapes folded) (shapes spec |> Result.map (List.removeAt 1)) "shapes"
          }

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = foldCases }
              "folding batch norm preserves the eval output within 1e-5 for random networks, BN statistics and inputs"
          <| Prop.forAll
              (Arb.fromGen (Gen.zip Generators.networkWithBatchNorm (Gen.choose (0, System.Int32.MaxValue))))
              (fun (spec, seed) ->
                  torch.manual_seed (int64 seed) |> ignore
                  let activation = if seed % 2 = 0 then Relu else Clip 1.5

                  use net =
                      match Compile.compile activation spec with
                      | Ok n -> n
                      | Error es -> failwith $"%A{es}"

                  net.``to`` torch.float64 |> ignore
                  randomizeBatchNorm net
                  net.eval ()
                  use folded = Fold.foldBatchNorm net
                  use scope = torch.NewDisposeScope()

                  let x =
                      match spec.Input with
                      | Image(c, h, w) -> torch.randn ([| 3L; int64 c; int64 h; int64 w |], dtype = torch.float64)
                      | Vector n -> torch.randn ([| 3L; int64 n |], dtype = torch.float64)

                  let diff = (net.forward x - folded.forward x).abs().max().item<float> ()
                  let noBatchNorm = folded.Leaves |> List.forall (fun l -> l.Layer <> BatchNorm)

                  (diff <= Tolerance.fold && noBatchNorm)
                  |> Prop.label $"max |difference| = %g{diff}") ]
