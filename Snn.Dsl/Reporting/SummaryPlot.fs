/// The plot of a summary over seeds (beside summary.md): how the QCFS SNN's accuracy at each T
/// follows the first layer's learned threshold, one point per seed (docs/EXPERIMENTS.md).
module Snn.Dsl.Reporting.SummaryPlot

open System
open System.IO
open ScottPlot
open Snn.Dsl.Reporting.Summary

/// The file name of the plot.
[<Literal>]
let FileName = "qcfs_threshold_vs_accuracy.png"

/// Per QCFS T: the (threshold, accuracy) points of the seeds that have both, with the T's rank
/// correlation.
let points (s: SeedSummary) =
    match Array.tryHead s.QcfsThresholds with
    | None -> []
    | Some theta ->
        [ for a in qcfsAccuracies s.Accuracies ->
              let rho =
                  s.QcfsThresholdCorrelations
                  |> Array.tryFind (fun c -> c.T = a.T)
                  |> Option.map _.Spearman
                  |> Option.defaultValue nan

              a.T, rho, finitePairs theta.Values a.Values ]

/// Whether the plot has something to show: two seeds or more with a QCFS threshold and accuracy.
let applies (s: SeedSummary) =
    points s |> List.exists (fun (_, _, pairs) -> pairs.Length >= 2)

let private markers =
    [| MarkerShape.FilledCircle
       MarkerShape.FilledSquare
       MarkerShape.FilledTriangleUp
       MarkerShape.FilledDiamond
       MarkerShape.FilledTriangleDown
       MarkerShape.OpenCircle
       MarkerShape.OpenSquare
       MarkerShape.OpenTriangleUp |]

/// Writes qcfs_threshold_vs_accuracy.png into `folder`: the QCFS SNN's test accuracy against the
/// first layer's learned threshold, a colour and marker per T (legend: T and Spearman's rho),
/// a point per seed labelled with its seed; returns its path.
let qcfsThresholdVsAccuracy (folder: string) (s: SeedSummary) =
    use plt = new Plot()
    let palette = Palettes.Category10()
    let layer = s.QcfsThresholds[0].Layer

    points s
    |> List.iteri (fun i (t, rho, pairs) ->
        let series = plt.Add.ScatterPoints(Array.map fst pairs, Array.map snd pairs)
        let rhoText = if Double.IsNaN rho then "" else $", rho = %.2f{rho}"
        series.LegendText <- $"T = {t}{rhoText}"
        series.Color <- palette.GetColor i
        series.MarkerSize <- 9.0f
        series.MarkerShape <- markers[i % markers.Length])

    // Each seed's label above its highest point.
    let theta = s.QcfsThresholds[0].Values

    for k, seed in Array.indexed s.Seeds do
        let top =
            qcfsAccuracies s.Accuracies
            |> Array.map (fun a -> a.Values[k])
            |> Array.filter (fun v -> not (Double.IsNaN v))

        if not (Double.IsNaN theta[k]) && top.Length > 0 then
            let label = plt.Add.Text($"seed {seed}", theta[k], Array.max top)
            label.LabelFontSize <- 11.0f
            label.LabelOffsetY <- -14.0f

    plt.XLabel $"learned threshold |theta| of {layer} (first layer)"
    plt.YLabel "QCFS SNN test accuracy (%)"
    let seeds = s.Seeds |> Array.map string |> String.concat ", "
    plt.Title $"QCFS over seeds {seeds}: accuracy vs first-layer threshold"
    plt.ShowLegend(Alignment.LowerLeft) |> ignore
    let path = Path.Combine(folder, FileName)
    Plots.savePng plt path 900 600
    path
