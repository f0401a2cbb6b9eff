module Snn.Dsl.Tests.CompileTests

open Expecto
open TorchSharp
open Snn.Core.Activations
open Snn.Dsl
open Snn.Dsl.Tests.Common

let private compileOk activation spec =
    match Compile.compile activation spec with
    | Ok n -> n
    | Error es -> failtest $"%A{es}"

/// libtorch's meta device: tensors with shapes and no data. Copying from it to the CPU fails, so a
/// transformation that left a part of a network on the CPU fails there, as it would on a GPU.
let private meta = torch.Device DeviceType.META

/// The device types of every parameter and buffer.
let private deviceTypes (m: torch.nn.Module) =
    Seq.append (m.parameters () |> Seq.cast<torch.Tensor>) (m.buffers ())
    |> Seq.map _.device_type
    |> Seq.distinct
    |> List.ofSeq

[<Tests>]
let tests =
    testList
        "Compile"
        [ test "fmnistVgg's layers have stable names in execution order" {
              use net = compileOk (Clip 5.0) Presets.fmnistVgg

              Expect.equal
                  (net.Leaves |> List.map (fun l -> l.Name, l.Layer.KindName))
                  [ "conv1", "conv"
                    "bn1", "bn"
                    "act1", "act"
                    "conv2", "conv"
                    "bn2", "bn"
                    "act2", "act"
                    "pool1", "avgPool"
                    "conv3", "conv"
                    "bn3", "bn"
                    "act3", "act"
                    "conv4", "conv"
                    "bn4", "bn"
                    "act4", "act"
                    "pool2", "avgPool"
                    "conv5", "conv"
                    "bn5", "bn"
                    "act5", "act"
                    "pool3", "avgPool"
                    "flatten1", "flatten"
                    "fc1", "linear"
                    "act6", "act"
                    "fc2", "linear" ]
                  "names and kinds"

              Expect.equal (net.Leaves |> List.map _.Index) [ 0 .. Presets.fmnistVgg.Layers.Length - 1 ] "spec indices"
          }

          test "ResNet-20's state dict uses layerK.i.part names with projection shortcuts where the shape changes" {
              use net = compileOk Relu (Presets.resnet20 10)
              let keys = net.state_dict().Keys |> Set.ofSeq

              for k in
                  [ "conv1.weight"
                    "bn1.running_mean"
                    "layer1.0.conv1.weight"
                    "layer1.2.bn2.bias"
                    "layer2.0.shortcut.0.weight"
                    "layer2.0.shortcut.1.weight"
                    "layer3.2.conv2.weight"
                    "fc1.bias" ] do
                  Expect.contains keys k "state dict key"

              Expect.isFalse (keys.Contains "layer1.0.shortcut.0.weight") "identity shortcut in stage 1"

              Expect.equal
                  (net.Layers |> List.map _.Name)
                  [ "conv1"
                    "bn1"
                    "act1"
                    yield!
                        [ for s in 1..3 do
                              for b in 0..2 -> $"layer%d{s}.%d{b}" ]
                    "pool1"
                    "flatten1"
                    "fc1" ]
                  "top-level layers"

              Expect.equal
                  ((net.Layers |> List.find (fun l -> l.Name = "layer2.0")).Children
                   |> List.map _.Name)
                  [ for p in [ "conv1"; "bn1"; "act1"; "conv2"; "bn2"; "shortcut.0"; "shortcut.1"; "act2" ] ->
                        "layer2.0." + p ]
                  "block parts in execution order"
          }

          // Issue 16: the QCFS baseline trained with the clip before the straight-through rounding
          // kept its thresholds near the initial 8 (about 4 after the bench profile's 10 epochs) and
          // converted at chance at T = 1. The QCFS code (putshua/SNN_conversion_QCFS, modules.py,
          // MyFloor) rounds first: x / up, floor(x t + 1/2) / t with the floor passed straight
          // through, clamp(0, 1), times up. This is that code in torch ops, the reference for both
          // gradients, on inputs in every band (below 0, the half step below 0, inside, the half step
          // above theta, above).
          test "the QCFS activation (QC) has the gradients of the QCFS code's MyFloor; noisy QC too at p = 0" {
              use qc = compileOk (QC(4, 8.0)) Presets.fmnistVgg
              use noisy = compileOk (NoisyQC(4, 8.0, 0.1)) Presets.fmnistVgg

              let first (net: CompiledNetwork) =
                  (Compile.activations net).Head.Module :?> QuantizeClipActivation

              Expect.equal (first qc).Gradient QuantizeClipGradient.RoundThenClip "QCFS: the QCFS code's order"
              Expect.equal (first noisy).Gradient QuantizeClipGradient.RoundThenClip "dual phase: PAPER.md's order"

              let inputs =
                  [| -3.0f
                     -0.9f
                     -0.5f
                     0.3f
                     0.99f
                     3.0f
                     5.2f
                     7.9f
                     8.5f
                     8.99f
                     9.5f
                     20.0f |]

              let myFloor (x: torch.Tensor) (up: torch.Tensor) : torch.Tensor =
                  let y = (x / up) * 4.0f + 0.5f
                  let floored = y + (y.floor () - y).detach ()
                  (floored / 4.0f).clamp (torch.tensor 0.0f, torch.tensor 1.0f) * up

              use x1 = torch.tensor (inputs, requires_grad = true)
              use up = torch.tensor ([| 8.0f |], requires_grad = true)
              let reference = myFloor x1 up
              reference.sum().backward ()

              let m = first qc
              m.train ()
              use x2 = torch.tensor (inputs, requires_grad = true)
              let y = m.forward x2
              y.sum().backward ()

              Expect.sequenceEqual (y.data<float32>().ToArray()) (reference.data<float32>().ToArray()) "values"
              Expect.sequenceEqual (x2.grad.data<float32>().ToArray()) (x1.grad.data<float32>().ToArray()) "d QC / d x"

              Expect.floatClose
                  Accuracy.high
                  (float (m.Threshold.grad.item<float32> ()))
                  (float (up.grad.item<float32> ()))
                  "d QC / d theta"
          }

          test "the activation fills every act: ReLU, clip, QC and noisy QC modules with their parameters" {
              let spec = Presets.resnet20 10
              use relu = compileOk Relu spec
              use clip = compileOk (Clip 5.0) spec
              use qc = compileOk (QC(4, 8.0)) spec
              use noisy = compileOk (NoisyQC(2, 3.0, 0.1)) spec
              // stem act + 9 blocks * 2
              for net in [ relu; clip; qc; noisy ] do
                  Expect.hasLength (Compile.activations net) 19 "activations"

              Expect.all (Compile.activations relu) (fun l -> l.Module :? Modules.ReLU) "ReLU"
              Expect.isEmpty (Compile.thresholds relu) "ReLU has no threshold"
              Expect.all (Compile.thresholds clip) (fun (_, t) -> abs (t - 5.0) < 1e-6) "clip threshold init"

              Expect.all
                  (Compile.activations qc)
                  (fun l ->
                      match l.Module with
                      | :? QuantizeClipActivation as q ->
                          q.Levels = 4
                          && q.NoiseProbability = 0.0
                          && abs (q.EffectiveThreshold - 8.0) < 1e-6
                      | _ -> false)
                  "QC L = 4, theta = 8, p = 0"

              Expect.all
                  (Compile.activations noisy)
                  (fun l ->
                      match l.Module with
                      | :? QuantizeClipActivation as q -> q.Levels = 2 && q.NoiseProbability = 0.1
                      | _ -> false)
                  "noisy QC L = 2, p = 0.1"

              Expect.equal
                  (Compile.thresholds qc |> List.map fst |> List.take 3)
                  [ "act1"; "layer1.0.act1"; "layer1.0.act2" ]
                  "names"
          }

          for activation in [ QC(4, 2.0); NoisyQC(4, 2.0, 0.5) ] do
              test $"a compiled %A{activation} activation computes QC_L exactly in evaluation" {
                  use net = compileOk activation (inputVector 3 --> linear 5 --> act --> linear 2)
                  net.eval ()
                  let a = (Compile.activations net).Head.Module
                  use scope = torch.NewDisposeScope()
                  let x = torch.linspace (-1.0, 3.0, 401L)
                  let y = a.forward x
                  // QC_L(x) = theta * clip(floor(x L / theta + 1/2) / L, 0, 1)
                  let expected =
                      ((x * 4.0 / 2.0 + 0.5).floor () / 4.0).clamp_min(0.0.ToScalar()).clamp_max (1.0.ToScalar())
                      * 2.0

                  Expect.isLessThan
                      ((y - expected).abs().max().item<float32> () |> float)
                      Tolerance.qc
                      "QC_4 with theta 2"
              }

          test "a residual block computes act2(body(x) + shortcut(x)) from its parts" {
              use net =
                  compileOk (Clip 1.5) (input (3, 8, 8) --> residual 4 2 --> flatten --> linear 2)

              net.eval ()
              let block = net.Layers.Head

              let part name =
                  (block.Children |> List.find (fun l -> l.Name = "layer1.0." + name)).Module

              use scope = torch.NewDisposeScope()
              let x = torch.randn ([| 2L; 3L; 8L; 8L |])

              let body =
                  [ "conv1"; "bn1"; "act1"; "conv2"; "bn2" ]
                  |> List.fold (fun t n -> (part n).forward t) x

              let shortcut = (part "shortcut.1").forward ((part "shortcut.0").forward x)
              let expected = (part "act2").forward (body + shortcut)
              let y = block.Module.forward x
              Expect.isLessThan ((y - expected).abs().max().item<float32> () |> float) 1e-6 "same computation"
          }

          test "compiling reports spec and activation errors together" {
              match Compile.compile (NoisyQC(0, -1.0, 1.0)) (input (1, 4, 4) --> dropout 2.0 --> linear 3) with
              | Ok _ -> failtest "expected errors"
              | Error es ->
                  Expect.equal
                      (es |> List.map _.Problem)
                      [ NonPositive("levels L", 0)
                        ThresholdNotPositive -1.0
                        NoiseProbabilityOutOfRange 1.0
                        DropoutOutOfRange 2.0
                        FlattenMissing(Image(1, 4, 4)) ]
                      "activation errors first, then the spec's"
          }

          test "withActivation carries weights, BN state and clip thresholds over to a QC network" {
              use clip = compileOk (Clip 5.0) Presets.fmnistVgg

              for _, m in clip.named_modules () do
                  match m with
                  | :? ClipActivation as c ->
                      use _ = torch.no_grad ()
                      c.Threshold.fill_ (3.25) |> ignore
                  | _ -> ()

              use qc = Compile.withActivation (QC(2, 5.0)) clip
              Expect.all (Compile.thresholds qc) (fun (_, t) -> t = 3.25) "thresholds carried over"

              let before = clip.state_dict ()

              for KeyValue(k, v) in qc.state_dict () do
                  Expect.isTrue (v.allclose (before[k], 0.0, 0.0, false)) $"%s{k} carried over"
          }
          test
              "toDevice moves every parameter and buffer (clip thresholds and BN statistics included); deviceOf says where" {
              use net = compileOk (Clip 5.0) Presets.fmnistVgg
              Expect.equal (Compile.deviceOf net).``type`` DeviceType.CPU "compiled on the CPU"
              Expect.isTrue (obj.ReferenceEquals(Compile.toDevice meta net, net)) "moved in place"
              Expect.equal (deviceTypes net) [ DeviceType.META ] "every tensor moved"
              Expect.equal (Compile.deviceOf net).``type`` DeviceType.META "deviceOf"

              let thresholds =
                  Compile.activations net
                  |> List.map (fun l -> (l.Module :?> ClipActivation).Threshold.device_type)
                  |> List.distinct

              Expect.equal thresholds [ DeviceType.META ] "the activation modules' own fields follow"
          }

          test "withActivation makes its copy on the source's device" {
              use clip = compileOk (Clip 5.0) Presets.fmnistVgg |> Compile.toDevice meta
              use qc = Compile.withActivation (NoisyQC(2, 5.0, 0.1)) clip
              Expect.equal (deviceTypes qc) [ DeviceType.META ] "on the source's device"
          }

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 30 }
              "leafNames names every leaf as the compiled network does, without building it"
          <| FsCheck.FSharp.Prop.forAll (FsCheck.FSharp.Arb.fromGen Generators.networkWithBatchNorm) (fun spec ->
              use net = compileOk Relu spec
              Compile.leafNames net.Info = (net.Leaves |> List.map (fun l -> l.Name, l.Layer)))

          test "a dilated, grouped conv compiles to a Conv2d with those settings and the spec's parameter count" {
              let spec =
                  input (6, 12, 12) --> convFull 9 3 2 1 2 3 true --> act --> flatten --> linear 2

              use net = compileOk Relu spec
              Expect.equal (Compile.parameterCount net) net.Info.Parameters "parameters"
              let conv = net.Leaves.Head.Module :?> Modules.Conv2d
              Expect.equal conv.weight.shape [| 9L; 2L; 3L; 3L |] "weight [out, in / groups, k, k]"
              use y = net.forward (torch.zeros (1L, 6L, 12L, 12L))
              Expect.equal y.shape [| 1L; 2L |] "runs"
          } ]
