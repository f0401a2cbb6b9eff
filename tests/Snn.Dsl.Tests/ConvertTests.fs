module Snn.Dsl.Tests.ConvertTests

open Expecto
open TorchSharp
open Snn.Dsl
open Snn.Core.Simulation

let private compiled activation spec =
    match Compile.compile activation spec with
    | Ok n -> n
    | Error es -> failwithf "%A" (es |> List.map _.Message)

let private converted options network =
    match Convert.toSpiking options network with
    | Ok s -> s
    | Error es -> failwithf "%A" (es |> List.map _.Message)

/// Random BN statistics so that folding is not the identity.
let private randomizeBatchNorm (network: CompiledNetwork) =
    use _ = torch.no_grad ()

    for l in network.Leaves do
        match l.Module with
        | :? Modules.BatchNorm2d as b ->
            b.running_mean.copy_ (torch.randn_like b.running_mean * 0.1) |> ignore
            b.running_var.copy_ (torch.rand_like b.running_var + 0.5) |> ignore
        | _ -> ()

// Sequenced: two tests seed torch's process-wide generator and check values that depend on the draws
// (exact QC conversion at every T, the identity within 1e-4); tests running in parallel would draw
// from the same generator in between, so a failing case would not replay from its seed.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "Convert"
        [ test "a dilated, grouped conv converts to a synapse that computes the ANN layer's current" {
              use scope = torch.NewDisposeScope()
              torch.manual_seed 3L |> ignore

              let spec =
                  input (4, 9, 9) --> convFull 6 3 1 2 2 2 true --> act --> flatten --> linear 3

              use net = compiled (Clip 2.0) spec
              use snn = converted ConversionOptions.Default net
              let synapse = snn.Layers[0].Inputs[0].Synapse
              Expect.equal (synapse.Dilation, synapse.Groups) (2L, 2L) "dilation and groups"
              let x = torch.randn (2L, 4L, 9L, 9L)

              let gap =
                  (synapse.Forward x - net.Leaves.Head.Module.forward x).abs().max().item<float32> ()

              Expect.equal gap 0.0f "the same conv2d as the ANN layer"
          }

          testCase "fmnistVgg compiles, folds, converts and simulates with the identity holding in every layer"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed 1L |> ignore
              use net = compiled (Clip 5.0) Presets.fmnistVgg
              randomizeBatchNorm net
              net.eval ()
              use folded = Fold.foldBatchNorm net
              use snn = converted ConversionOptions.Default folded
              Expect.equal snn.NeuronLayers.Count 6 "six spiking layers: conv1-5 and fc1"
              let x = torch.randn (8L, 1L, 28L, 28L)
              use result = snn.Run(x, 4, SimulationOptions(Record = true))
              Expect.equal result.Output.shape [| 8L; 10L |] "logits"

              for layer in result.Layers do
                  if not (isNull layer.Rate) then
                      let dev =
                          (layer.Rate
                           - layer.MeanInput
                           - (layer.InitialPotential - layer.FinalPotential) / 4.0)
                              .abs()
                              .max()
                              .item<float32> ()

                      Expect.isLessThan (float dev) 1e-4 $"identity in {layer.Name}"

          testCase "one hidden QC layer converts exactly: the SNN output equals the QC ANN output at L = T"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed 2L |> ignore
              let spec = network (Image(1, 6, 6)) [ conv 4; act; flatten; linear 3 ]

              for t in [ 1; 2; 4; 8 ] do
                  use ann = compiled (QC(t, 1.0)) spec
                  ann.eval ()
                  use snn = converted ConversionOptions.Default ann
                  let x = torch.randn (16L, 1L, 6L, 6L, dtype = torch.float32)
                  use expected = torch.no_grad () |> fun g -> (use _ = g in ann.forward x)
                  use result = snn.Run(x, t)
                  let gap = (result.Output - expected).abs().max().item<float32> ()
                  Expect.isLessThan (float gap) 1e-5 $"T = {t}"

          testCase "max pooling is refused with a message suggesting average pooling, unless replacement is asked for"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let spec = network (Image(1, 8, 8)) [ conv 4; act; maxPool 2; flatten; linear 3 ]
              use ann = compiled (Clip 2.0) spec

              match Convert.toSpiking ConversionOptions.Default ann with
              | Ok _ -> failtest "max pooling converted silently"
              | Error es ->
                  Expect.equal es.Length 1 "one error"
                  Expect.stringContains es.Head.Message "average pooling" "suggests average pooling"
                  Expect.stringContains es.Head.Message "layer 2" "names the layer"

              use snn =
                  converted
                      { ConversionOptions.Default with
                          ReplaceMaxPool = true }
                      ann

              Expect.equal snn.NeuronLayers.Count 1 "converted with average pooling"

          testCase "an unfolded ReLU network reports every conversion problem at once"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use ann = compiled Relu Presets.fmnistVgg

              match Convert.toSpiking ConversionOptions.Default ann with
              | Ok _ -> failtest "converted a ReLU network with batch norm"
              | Error es ->
                  let bn = es |> List.filter (fun e -> e.Problem = BatchNormNotFolded)
                  let relu = es |> List.filter (fun e -> e.Problem.IsNoThreshold)
                  Expect.equal bn.Length 5 "five batch norms"
                  Expect.equal relu.Length 6 "six ReLUs without threshold"

          testCase "the ANN targets have one tensor per spiking layer with the neuron shape, residual blocks included"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              let spec = Common.Specs.residualBlock

              use ann = compiled (QC(4, 1.0)) spec
              use snn = converted ConversionOptions.Default ann
              let x = torch.randn (5L, 2L, 8L, 8L)
              let targets = (Convert.annActivations ann).Invoke x
              Expect.equal targets.Length snn.NeuronLayers.Count "one target per neuron layer"

              for k, i in Seq.indexed snn.NeuronLayers do
                  Expect.equal targets[k].shape[1..] snn.Layers[i].NeuronShape $"shape of {snn.Layers[i].Name}"

          testCase
              "ResNet-34's stem pooling (average 3x3, stride 2, padding 1) before an identity-shortcut block converts, and the SNN approaches the ANN as T grows"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed 5L |> ignore

              let spec =
                  input (3, 16, 16)
                  --> conv 8
                  --> act
                  --> avgPoolWith 3 2 1
                  --> residual 8 1
                  --> globalAvgPool
                  --> flatten
                  --> linear 4

              use ann = compiled (Clip 1.0) spec
              randomizeBatchNorm ann
              ann.eval ()
              use folded = Fold.foldBatchNorm ann
              use snn = converted ConversionOptions.Default folded
              let x = torch.rand (16L, 3L, 16L, 16L)
              use expected = torch.no_grad () |> fun g -> (use _ = g in folded.forward x)

              let gap t =
                  use result = snn.Run(x, t)
                  (result.Output - expected).abs().max().item<float32> () |> float

              let scale = expected.abs().max().item<float32> () |> float
              let early, late = gap 8, gap 512
              Expect.isLessThan late (early / 10.0) $"the gap shrinks with T: {early:G3} at T = 8, {late:G3} at T = 512"
              Expect.isLessThan late (0.01 * scale) $"at T = 512 within 1%% of the largest logit {scale:G3}"

          test
              "ResNet-34's ImageNet preset converts with its average stem pool; the max stem pool only with replacement" {
              let problems stem replace =
                  Convert.specProblems
                      { ConversionOptions.Default with
                          ReplaceMaxPool = replace }
                      (Fold.foldSpec (Presets.resnet34 (ImageNet stem) 1000))
                      (Clip 1.0)

              Expect.isEmpty (problems AvgStemPool false) "average stem"
              Expect.isEmpty (problems MaxStemPool true) "max stem, replaced"
              Expect.equal (problems MaxStemPool false).Length 1 "max stem: refused once"
              Expect.stringContains (problems MaxStemPool false).Head "max pooling" "names max pooling"
          }

          test
              "an overlapping or padded pooling next to another pooling is refused: the two do not fold into one window" {
              let spec =
                  input (2, 16, 16)
                  --> conv 4
                  --> act
                  --> avgPoolWith 3 2 1
                  --> avgPool 2
                  --> flatten
                  --> linear 3

              match Convert.specProblems ConversionOptions.Default spec (Clip 1.0) with
              | [ m ] ->
                  Expect.stringContains m "layer 2" "names the padded pooling"
                  Expect.stringContains m "together with another pooling" "says why"
              | ms -> failtestf "expected one problem, got %A" ms
          }

          testList
              "slow"
              [ testCase
                    "ResNet-34's ImageNet preset (average stem) compiles, folds, converts to 33 neuron layers and runs"
                <| fun () ->
                    use scope = torch.NewDisposeScope()
                    use ann = compiled (Clip 1.0) (Presets.resnet34 (ImageNet AvgStemPool) 1000)
                    ann.eval ()
                    use folded = Fold.foldBatchNorm ann
                    use snn = converted ConversionOptions.Default folded
                    Expect.equal snn.NeuronLayers.Count 33 "the stem and two per basic block (16 blocks)"
                    use result = snn.Run(torch.rand (1L, 3L, 224L, 224L), 2)
                    Expect.equal result.Output.shape [| 1L; 1000L |] "1000 logits" ] ]
