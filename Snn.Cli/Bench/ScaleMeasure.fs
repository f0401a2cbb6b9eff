/// `snn bench --scale`, the child's side: one measurement of one model on synthetic images
/// (seeded normal noise of the model's input shape; the timing does not depend on the pixels):
/// the ANN pass, the SNN simulation at T, or one Phase II layer step (potential calibration and
/// one weight-calibration epoch of the first neuron layer at T = 4).
module Snn.Cli.Bench.ScaleMeasure

open System
open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Calibration
open Snn.Core.Simulation
open Snn.Dsl
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure

/// ResNet-34 for 3x224x224 as the preset has it: the ImageNet stem (conv 7x7 stride 2, then
/// avgPool 3, stride 2, padding 1) folds into the next synapse when converted.
let private resnet34 = Presets.resnet34 (ImageNet AvgStemPool) 1000

/// The models of the scale bench (fmnist-vgg at its 1x28x28 input, its linear layer is sized for
/// it; the CIFAR models at 3x32x32), every one convertible.
let models =
    [ "fmnist-vgg", Presets.fmnistVgg
      "resnet20", Presets.resnet20 10
      "vgg16", Presets.vgg16 10
      "resnet34", resnet34 ]

let specOf (name: string) =
    match models |> List.tryFind (fun (n, _) -> n = name) with
    | Some(_, s) -> s
    | None ->
        let known = models |> List.map fst |> String.concat ", "
        raise (ArgumentException($"--model = {name} is not a scale-bench model: expected one of {known}", "model"))

/// MACs of one ANN forward pass per image.
let macsOf (spec: NetworkSpec) =
    match Network.validate spec with
    | Ok info -> Snn.Dsl.Pipeline.Evaluation.annMacs info
    | Error _ -> nan

let private imagesOf (spec: NetworkSpec) (batch: int) (seed: int64) =
    match spec.Input with
    | Image(c, h, w) ->
        torch.manual_seed seed |> ignore
        torch.randn (int64 batch, int64 c, int64 h, int64 w)
    | Vector n -> torch.randn (int64 batch, int64 n)

/// The model with clip thresholds 5.0, batch norm folded, in evaluation mode.
let private folded (spec: NetworkSpec) =
    torch.manual_seed 0L |> ignore

    match Compile.compile (Clip 5.0) spec with
    | Ok trained ->
        use trained = trained
        trained.eval ()
        Fold.foldBatchNorm trained
    | Error es -> failwithf "the model does not compile: %A" es

let private rate (batch: int) (times: float list) = float batch / median times

let private result (part: string) (batch: int) (t: int) (times: float list) =
    JsonObject(
        dict
            [ "part", JsonValue.Create part :> JsonNode
              "batch", JsonValue.Create batch
              "T", JsonValue.Create t
              "seconds", floats times
              "images_per_second", JsonValue.Create(rate batch times) ]
    )

/// One measurement (`--only scale-ann | scale-snn | scale-phase2`) of `plan.Model`.
let measure (plan: Plan) (part: string) (t: int) : JsonObject =
    let spec = specOf plan.Model
    let batch = plan.Batch
    use net = folded spec
    use images = imagesOf spec batch 1L

    match part with
    | "scale-ann" ->
        use _ = torch.no_grad ()
        net.forward(images).Dispose()

        let times =
            [ for _ in 1 .. plan.Repeats -> seconds (fun () -> net.forward(images).Dispose()) ]

        result part batch 0 times
    | "scale-snn" ->
        use snn = spikingOf net
        // Warm-up at T = 1 (allocations, kernels), then the timed runs at T.
        (snn.Run(images, 1, SimulationOptions())).Dispose()

        let times =
            [ for _ in 1 .. plan.Repeats -> seconds (fun () -> (snn.Run(images, t, SimulationOptions())).Dispose()) ]

        result part batch t times
    | "scale-phase2" ->
        let t = 4
        use snn = spikingOf net
        use heldOut = imagesOf spec batch 2L
        let targets = Convert.annActivations net

        let options =
            CalibrationOptions(
                LearningRate = Snn.Dsl.Pipeline.Steps.CalibrateWeights.defaults.LearningRate,
                MaxEpochs = 1
            )

        let step () =
            PotentialCalibration.CalibrateLayer(snn, 0, targets, [| images |], t) |> ignore

            WeightCalibration.CalibrateLayer(snn, 0, targets, [| images |], [| heldOut |], t, options)
            |> ignore

        let times = [ for _ in 1 .. plan.Repeats -> seconds step ]
        result part batch t times
    | other -> invalidArg "part" $"not a scale measurement: {other}"
