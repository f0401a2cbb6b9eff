/// What a whole-network fine-tune (the fineTuneSnn step) logs and records: held-out accuracy and
/// training loss per epoch, the epoch kept, and the learned thresholds.
module Snn.Dsl.Pipeline.Steps.FineTuneSnnRecords

open System.Text.Json.Nodes
open Snn.Core.Calibration
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

/// Each neuron layer's name and mean threshold.
let meanThresholds (snn: Snn.Core.Simulation.SpikingNetwork) =
    [ for layer in snn.Layers do
          if layer.HasNeuron then
              layer.Name, layer.Threshold.mean().to_type(TorchSharp.torch.ScalarType.Float64).item<float> () ]

/// The learned thresholds, logged and as a record: [{layer, before, after}] (means over the layer's neurons).
let thresholdRecord (ctx: StepContext) (t: int) (before: (string * float) list) (after: (string * float) list) =
    let changes = List.zip before after

    for (name, a), (_, b) in changes do
        ctx.Log $"T={t} {name}: threshold learned %.4g{a} -> %.4g{b}"

    JsonArray(
        [| for (name, a), (_, b) in changes ->
               let o = JsonObject()
               o["layer"] <- JsonValue.Create name
               o["before"] <- JsonValue.Create a
               o["after"] <- JsonValue.Create b
               o :> JsonNode |]
    )

/// Finite values as numbers and a non-finite one (a diverged loss) as null, since JSON has no NaN.
let private numbers (xs: float seq) =
    JsonArray(
        [| for x in xs ->
               if System.Double.IsFinite x then
                   JsonValue.Create x :> JsonNode
               else
                   null |]
    )

/// A fine-tune's record: held-out accuracy per epoch (the start first), mean training loss per epoch, the epoch kept, seconds.
let historyRecord (t: int) (history: NetworkFineTuneHistory) =
    let record = JsonObject()
    record["T"] <- JsonValue.Create t

    record["held_out_accuracy"] <- numbers history.HeldOutAccuracy
    record["train_loss"] <- numbers history.TrainLoss

    record["best_epoch"] <- JsonValue.Create history.BestEpoch
    record["seconds"] <- JsonValue.Create history.Elapsed.TotalSeconds
    record

/// The log line of a fine-tune: its held-out curve, the epoch kept and its seconds.
let accuracies (history: NetworkFineTuneHistory) =
    let curve =
        history.HeldOutAccuracy
        |> Seq.map (Format.twoDecimals "-")
        |> String.concat " -> "

    $"held-out accuracy {curve}%% (kept epoch {history.BestEpoch}, %.0f{history.Elapsed.TotalSeconds} s)"
