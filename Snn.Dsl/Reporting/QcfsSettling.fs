/// Whether a run's QCFS thresholds had the training to settle. QCFS starts every threshold at
/// theta0 (8 in the QCFS code) and learns it; on the bench profile they end at 0.9-2.6. A run too
/// short to move them far (the quick profile's 158 steps leave them near 7) converts a network
/// whose quantization steps are theta / L wide against activations mostly below theta / (2L):
/// its SNN at small T is then near chance and says little about QCFS trained to the end. The
/// report and the terminal say so instead of showing such figures bare.
module Snn.Dsl.Reporting.QcfsSettling

open System.Text.Json
open Snn.Dsl.Reporting.Results

/// theta0 of the run's qcfs step, as its experiment JSON records it (every field is written out);
/// None without a qcfs step or an experiment.
let initialThreshold (r: RunResults) =
    let e = r.Experiment

    if e.ValueKind <> JsonValueKind.Object then
        None
    else
        match e.TryGetProperty "pipeline" with
        | true, steps when steps.ValueKind = JsonValueKind.Array ->
            steps.EnumerateArray()
            |> Seq.filter (fun s ->
                s.ValueKind = JsonValueKind.Object
                && (match s.TryGetProperty "step" with
                    | true, n -> n.ValueKind = JsonValueKind.String && n.GetString() = "qcfs"
                    | _ -> false))
            |> Seq.tryLast
            |> Option.bind (fun s ->
                match s.TryGetProperty "initial_threshold" with
                | true, t when t.ValueKind = JsonValueKind.Number -> Some(t.GetDouble())
                | _ -> None)
        | _ -> None

/// The learned QCFS thresholds' range (lowest, highest) and theta0 when every one of them is still
/// above theta0 / 2: the thresholds did not settle. None when they did, or without QCFS.
let unsettled (r: RunResults) =
    if isNull (box r.Qcfs) || isNull r.Qcfs.Thresholds || r.Qcfs.Thresholds.Length = 0 then
        None
    else
        let thetas = r.Qcfs.Thresholds |> Array.map _.Threshold

        initialThreshold r
        |> Option.filter (fun theta0 -> Array.min thetas > theta0 / 2.0)
        |> Option.map (fun theta0 -> theta0, Array.min thetas, Array.max thetas)

/// The sentence the report and the terminal add after the QCFS QC ANN's accuracy, or "".
let note (r: RunResults) =
    match unsettled r with
    | None -> ""
    | Some(theta0, low, high) ->
        $"its learned thresholds (%.2f{low}-%.2f{high}) are all still above half their start (%g{theta0}): training was too short for them to settle, so the QCFS SNN's accuracy at small T says little about QCFS trained longer (docs/EXPERIMENTS.md, \"The QCFS baseline at low T\")"
