/// Fine-tuning every spiking network end to end at its T (surrogate BPTT through the whole
/// network, Snn.Core's NetworkFineTune) on the training images, keeping the weights with the best
/// held-out accuracy: a technique beyond PAPER.md (issue 16), run after Phase II's layer-wise
/// calibration; its rows in the report show what it buys.
module Snn.Dsl.Pipeline.Steps.FineTuneSnn

open System.Text.Json.Nodes
open Snn.Core.Calibration
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        /// Passes over the training images.
        Epochs: int
        /// Adam's learning rate.
        LearningRate: float
        BatchSize: int
        /// Initial alpha of each layer's surrogate spike.
        InitialAlpha: float
    }

let defaults =
    { Epochs = 1
      LearningRate = 1e-4
      BatchSize = 128
      InitialAlpha = 2.5 }

let private label (p: Parameters) =
    $"fineTuneSnn (%d{p.Epochs} epochs, lr %g{p.LearningRate})"

let private fineTune (p: Parameters) (ctx: StepContext) (t: int) =
    let snn = ctx.Spiking t
    let loader = ctx.Data.TrainLoader(p.BatchSize, ctx.Seed + 30 + t)

    let task =
        ctx.Progress.Start($"T={t}: fine-tune the spiking network", p.Epochs * loader.BatchCount)

    let options =
        NetworkFineTuneOptions(LearningRate = p.LearningRate, Epochs = p.Epochs, InitialSlope = p.InitialAlpha)

    let history =
        NetworkFineTune.FineTune(
            snn,
            (fun e ->
                loader.Epoch e
                |> Seq.map (fun struct (x, y) -> struct (ctx.Data.OnDevice x, ctx.Data.OnDevice y))),
            ctx.Data.HeldOutBatches |> Seq.map (fun (x, y) -> struct (x, y)),
            t,
            options,
            (fun e loss -> task.Advance(1, $"epoch {e + 1} loss {loss:F3}"))
        )

    task.Finish()

    let accuracies =
        history.HeldOutAccuracy
        |> Seq.map (fun a -> a.ToString "F2")
        |> String.concat " -> "

    ctx.Log
        $"T={t}: fine-tuned the spiking network, held-out accuracy {accuracies}%% (kept epoch {history.BestEpoch}, {history.Elapsed.TotalSeconds:F0} s)"

    let record = JsonObject()
    record["T"] <- JsonValue.Create t

    record["held_out_accuracy"] <-
        JsonArray(
            history.HeldOutAccuracy
            |> Seq.map (fun a -> JsonValue.Create a :> JsonNode)
            |> Array.ofSeq
        )

    record["best_epoch"] <- JsonValue.Create history.BestEpoch
    record["seconds"] <- JsonValue.Create history.Elapsed.TotalSeconds
    ctx.Put(Spiking t, SpikingValue snn, [ CustomRecord("fineTuneSnn", record) ])

let definition: StepDefinition<Parameters> =
    { Name = "fineTuneSnn"
      Parameters =
        Codec.record (fun e lr b a ->
            { Epochs = e
              LearningRate = lr
              BatchSize = b
              InitialAlpha = a })
        |> Codec.field "epochs" _.Epochs Codec.int
        |> Codec.fieldOr "learning_rate" _.LearningRate Codec.float defaults.LearningRate
        |> Codec.fieldOr "batch_size" _.BatchSize Codec.int defaults.BatchSize
        |> Codec.fieldOr "initial_alpha" _.InitialAlpha Codec.float defaults.InitialAlpha
      Label = label
      Problems =
        fun p ->
            Declare.inRange "epochs" 1 Training.MaxEpochs p.Epochs
            @ [ if not (p.LearningRate > 0.0 && p.LearningRate <= 1.0) then
                    $"learning_rate = %g{p.LearningRate} is out of range: expected (0, 1]" ]
            @ Declare.inRange "batch_size" 1 65536 p.BatchSize
            @ Declare.positive "initial_alpha" p.InitialAlpha
      Declare =
        fun p s ->
            match Declare.spikingNetworks s with
            | [] -> Declare.fromProblems [ "needs a spiking network: add convert before fineTuneSnn" ]
            | nets ->
                { Declare.none with
                    Needs = nets |> List.map (fst >> Spiking)
                    Makes =
                        [ for t, i in nets ->
                              Spiking t,
                              SpikingDescriptor
                                  { i with
                                      Lineage = i.Lineage @ [ StepApplied(label p) ] } ]
                    Records = true }
      Run =
        fun p ctx ->
            for t in SpikingRuns.timeSteps ctx do
                fineTune p ctx t }

/// Fine-tunes every spiking network end to end for this many epochs.
let step epochs =
    Step.create definition { defaults with Epochs = epochs }
