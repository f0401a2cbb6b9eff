/// report.md of a run: every table is rendered from the RunResults the same run measured.
module Snn.Dsl.Reporting.Markdown

open System
open System.IO
open System.Text
open Snn.Dsl.Reporting.Results

/// Two decimals; "—" for a figure the run did not produce (NaN: e.g. no Phase II at that T).
let private f2 (x: float) =
    if Double.IsNaN x then
        "—"
    else
        x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)

let private f4 (x: float) =
    x.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)

let private sci (x: float) =
    x.ToString("0.00e+0", System.Globalization.CultureInfo.InvariantCulture)

/// The summary table: ANN, QCFS and every dual-phase stage at each T (test accuracy, %).
let summaryTable (r: RunResults) =
    let sb = StringBuilder()
    let dual = r.DualPhase |> Array.sortBy (fun d -> d.T)

    let qcfsAt t =
        r.Qcfs.Snn |> Array.tryFind (fun q -> q.T = t)

    sb.AppendLine(
        "| T | QCFS SNN | direct | Phase I | + potential | + weights | dual-phase final | QC ANN (L) | E_ANN/E_SNN |"
    )
    |> ignore

    sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|") |> ignore

    for d in dual do
        let q =
            qcfsAt d.T |> Option.map (fun q -> f2 q.TestAccuracy) |> Option.defaultValue "-"

        let s = d.Snn

        sb.AppendLine(
            $"| {d.T} | {q} | {f2 s.Direct} | {f2 s.Phase1} | {f2 s.Potential} | {f2 s.Weights} | **{f2 s.Final}** | {f2 d.QcAnnTestAccuracy} ({d.FineTunedL}) | {f2 d.EnergyRatio} |"
        )
        |> ignore

    sb.ToString()

let private layerTable (d: DualPhaseEntry) =
    let sb = StringBuilder()
    sb.AppendLine($"#### T = {d.T}") |> ignore
    sb.AppendLine() |> ignore

    sb.AppendLine(
        "| layer | theta | stage | mean abs residual | mean residual | mean abs quantization | mean abs clipping | v(T) < 0 | v(T) >= theta |"
    )
    |> ignore

    sb.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|") |> ignore

    for l in d.Layers |> Array.sortBy (fun l -> l.Name, l.Stage <> "phase1") do
        sb.AppendLine(
            $"| {l.Name} | {f2 l.Threshold} | {l.Stage} | {f4 l.ResidualMeanAbs} | {f4 l.ResidualMean} | {f4 l.QuantizationMeanAbs} | {f4 l.ClippingMeanAbs} | {f2 (100.0 * l.NegativeShare)}%% | {f2 (100.0 * l.OverflowShare)}%% |"
        )
        |> ignore

    sb.ToString()

/// Renders report.md.
let render (r: RunResults) (plots: string list) =
    let sb = StringBuilder()
    let line (s: string) = sb.AppendLine s |> ignore
    line $"# Dual-phase ANN-to-SNN conversion: {r.Splits.Dataset}, profile `{r.Profile}`"
    line ""

    line
        $"Seed {r.Seed}, commit `{r.Commit}`, {r.Cores} cores ({r.Machine}). Every number below was measured by this run; the experiment that ran is recorded in results.json."

    line ""

    line
        $"Splits: train {r.Splits.Train}, held-out {r.Splits.HeldOut} (calibration {r.Splits.Calibration} + early stopping {r.Splits.EarlyStopping} images drawn from it; never test data), test {r.Splits.Test}; SNN accuracies on {r.Splits.SnnTest} test images."

    line ""
    line "## Accuracy (test, %)"
    line ""

    line
        $"- ReLU ANN: **{f2 r.Ann.TestAccuracy}** (held-out {f2 r.Ann.HeldOutAccuracy}), {sci r.Ann.MacsPerImage} MACs per image"

    line $"- Phase-I clip ANN: {f2 r.ClipAnn.TestAccuracy} (held-out {f2 r.ClipAnn.HeldOutAccuracy})"
    line $"- QCFS baseline: QC ANN at L = {r.Qcfs.L}: {f2 r.Qcfs.AnnTestAccuracy}"
    line ""
    line (summaryTable r)

    line
        "Stages: direct = the Phase-I clip ANN converted as is; Phase I = the QC ANN fine-tuned at L converted (L = T where Phase I fine-tuned for T, else the largest L below T); + potential / + weights / final = Phase II steps a, b, c of PAPER.md. Phase II calibrates a network for one T, so it runs at the T that Phase I fine-tuned for; at any other T its columns are —."

    line ""
    line "![accuracy vs T](accuracy_vs_T.png)"
    line ""
    line "## Where the error comes from"
    line ""

    line
        "Per layer, mean over neurons and test images, before (stage `phase1`) and after (stage `final`) Phase II. The three terms add up to r - ReLU(z) exactly."

    line ""

    for d in r.DualPhase |> Array.sortBy (fun d -> d.T) do
        if d.Layers.Length > 0 then
            line (layerTable d)
            line $"![errors at T = {d.T}](errors_T{d.T}.png) ![potentials at T = {d.T}](potentials_T{d.T}.png)"
            line ""

    line
        $"Largest deviation of the identity r = z + (v(0) - v(T))/T over every neuron of every SNN evaluation: {sci r.IdentityMaxAbs} (the run fails above 1e-4)."

    line ""
    line "## Energy"
    line ""

    line
        "| T | dual-phase SOPs / image | QCFS SOPs / image | first-layer MACs / image | E_ANN / E_SNN dual-phase | E_ANN / E_SNN QCFS |"

    line "|---:|---:|---:|---:|---:|---:|"

    for d in r.DualPhase |> Array.sortBy (fun d -> d.T) do
        let q = r.Qcfs.Snn |> Array.tryFind (fun q -> q.T = d.T)
        let qs = q |> Option.map (fun q -> sci q.SopsPerImage) |> Option.defaultValue "-"
        let qe = q |> Option.map (fun q -> f2 q.EnergyRatio) |> Option.defaultValue "-"
        line $"| {d.T} | {sci d.SopsPerImage} | {qs} | {sci d.FirstLayerMacsPerImage} | {f2 d.EnergyRatio} | {qe} |"

    line ""
    line "E_ANN = 4.6 pJ x MACs; E_SNN = 0.9 pJ x SOPs + 4.6 pJ x T x first-layer MACs (the analog input layer)."
    line ""
    line "![energy vs T](energy_vs_T.png)"
    line ""
    line "## Wall time (seconds)"
    line ""
    let w = r.WallSeconds
    line "| ReLU ANN | Phase I | Phase II | QCFS | evaluation | total |"
    line "|---:|---:|---:|---:|---:|---:|"
    line $"| {f2 w.Ann} | {f2 w.Phase1} | {f2 w.Phase2} | {f2 w.Qcfs} | {f2 w.Evaluation} | {f2 w.Total} |"
    line ""
    line "Phase II per T (seconds): "

    line (
        r.DualPhase
        |> Array.sortBy (fun d -> d.T)
        |> Array.map (fun d -> $"T={d.T}: {f2 d.CalibrationSeconds}")
        |> String.concat ", "
    )

    line ""
    line "## Files"
    line ""

    for p in plots do
        line $"- {Path.GetFileName p}"

    line "- results.json"
    sb.ToString()

/// Writes report.md atomically.
let save (folder: string) (r: RunResults) (plots: string list) =
    let path = Path.Combine(folder, "report.md")
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(path, render r plots)
    path
