module Snn.Dsl.Tests.Pipeline.ArtifactStoreTests

open System.IO
open Expecto
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private identity = String.replicate 64 "a"

let private clipInfo =
    { Spec = Presets.fmnistVgg
      Activation = Clip 3.0
      HasBatchNorm = true
      Tuning = [] }

/// A clip fmnist-vgg with seeded weights, saved as the clip ANN of a store in `root`.
let private saved (root: string) =
    torch.manual_seed 3L |> ignore

    let net =
        match Compile.compile clipInfo.Activation clipInfo.Spec with
        | Ok n -> n
        | Error es -> failtest $"%A{es}"

    use folder = new RunFolder(root)
    use store = new ArtifactStore(folder, torch.CPU)

    let entry =
        store.Save(Network ClipAnn, identity, AnnDescriptor clipInfo, AnnValue net, [])

    let state =
        net.state_dict ()
        |> Seq.map (fun (KeyValue(k, v)) -> k, v.clone ())
        |> Map.ofSeq

    entry, state

[<Tests>]
let tests =
    testList
        "ArtifactStore"
        [ test "a saved ANN loads back on the CPU with every value as saved" {
              let root = tempFolder "artifacts-cpu"
              let entry, state = saved root

              match ArtifactEntry.load (Path.Combine(root, "artifacts")) torch.CPU entry with
              | AnnValue n ->
                  use n = n

                  for KeyValue(k, v) in n.state_dict () do
                      Expect.isTrue (v.allclose (state[k], 0.0, 0.0)) $"{k} as saved"
              | SpikingValue _ -> failtest "an ANN was saved"
          }

          test "a saved ANN loads onto the run's device: every parameter and buffer is there" {
              // libtorch's meta device: shapes without data. The load copies the saved CPU values into the
              // device's tensors, as on a GPU; a tensor left on the CPU shows here.
              let root = tempFolder "artifacts-meta"
              let entry, _ = saved root
              let meta = torch.Device DeviceType.META

              match ArtifactEntry.load (Path.Combine(root, "artifacts")) meta entry with
              | AnnValue n ->
                  use n = n

                  let devices =
                      Seq.append (n.parameters () |> Seq.cast<torch.Tensor>) (n.buffers ())
                      |> Seq.map _.device_type
                      |> Seq.distinct
                      |> List.ofSeq

                  Expect.equal devices [ DeviceType.META ] "on the device"
              | SpikingValue _ -> failtest "an ANN was saved"
          } ]
