/// report.md of a run: every table is rendered from the RunResults the same run measured.
module Snn.Dsl.Reporting.Markdown

open System
open System.IO
open System.Text
open Snn.Dsl.Reporting.Results

/// Two decimals; "—" for a figure the run did not produce (NaN: e.g. no Phase II at that T).
let private f2 = Format.twoDecimals "—"

let private f4 (x: float) =
    x.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)

let private sci (x: float) =
    x.ToString("0.00e+0", System.Globalization.CultureInfo.InvariantCulture)

/// An interval of results.json as "[low, high]".
let private ci (i: AccuracyInterval) = $"[{f2 i.Low}, {f2 i.High}]"

/// A p-value: four decimals down to 0.001, then scientific; below double's range, from its log10.
let pValue (c: PairedComparison) =
    if c.PValue >= 1e-3 then
        c.PValue.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)
    elif c.PValue > 0.0 then
        sci c.PValue
    else
        let e =
            c.Log10PValue.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)

        $"10^{e}"

/// The interval of the accuracy at `key`, if the results have statistics.
let private intervalOf (r: RunResults) (key: string) =
    if isNull (box r.Statistics) then
        None
    else
        r.Statistics.Accuracies |> Array.tryFind (fun i -> i.Key = key)

/// " [low, high]" (the 95 % interval) for the accuracy at `key`, or nothing.
let private ciNote (r: RunResults) (key: string) =
    intervalOf r key |> Option.map (fun i -> " " + ci i) |> Option.defaultValue ""

/// Per T: every SNN accuracy with its interval, then the paired tests.
let private statisticsAt (r: RunResults) (s: RunStatistics) (t: int) =
    let sb = StringBuilder()
    let line (x: string) = sb.AppendLine x |> ignore
    line $"### T = {t}"
    line ""
    line "| network | accuracy (%) | 95 % CI |"
    line "|---|---:|---:|"

    let isAt (i: AccuracyInterval) =
        i.T = t
        && (i.Key = Accuracies.qcfsKey t
            || i.Key = Accuracies.dualPhaseKey t "qc_ann_test_accuracy"
            || (i.Key.StartsWith(Accuracies.dualPhaseKey t "qc_ann_stages[")
                && i.Key.EndsWith ".test_accuracy")
            || i.Key = Accuracies.dualPhaseKey t "snn.direct"
            || i.Key.StartsWith(Accuracies.dualPhaseKey t "stages["))

    for i in s.Accuracies |> Array.filter isAt do
        line $"| {i.Label} | {f2 i.Accuracy} | {ci i} |"

    line ""
    let versusSource = if isNull s.VersusSource then [||] else s.VersusSource

    let tests =
        Array.concat [ s.Stages; s.VersusQcfs; versusSource ]
        |> Array.filter (fun c -> c.T = t)

    if tests.Length > 0 then
        line "| comparison | accuracies (%) | b | c | p |"
        line "|---|---:|---:|---:|---:|"

        for c in tests do
            let candidate =
                if Array.contains c s.VersusQcfs || Array.contains c versusSource then
                    $"dual-phase SNN ({c.Candidate})"
                else
                    c.Candidate

            line
                $"| {candidate} vs {c.Baseline} | {f2 c.CandidateAccuracy} vs {f2 c.BaselineAccuracy} | {c.BaselineOnly} | {c.CandidateOnly} | {pValue c} |"

        line ""

    sb.ToString()

/// The statistics section: how the intervals and tests are made, then each T.
let statisticsSection (r: RunResults) =
    let sb = StringBuilder()
    let line (x: string) = sb.AppendLine x |> ignore
    line "## Statistics"
    line ""

    if isNull (box r.Statistics) then
        line "This results.json was written before statistics were kept: no intervals or paired tests."
    else
        let s = r.Statistics

        line
            $"Confidence intervals (%.0f{100.0 * s.Confidence} %%): {s.IntervalMethod}. Paired tests on the same {r.Splits.SnnTest} test images: {s.PairedTest}. In a row \"A vs B\", b counts the images only B classifies right and c those only A classifies right."

        line ""

        line
            "Each T lists its SNN evaluations in pipeline order, each tested against the one before it, named by what was done since conversion: phase1 is Phase I; Phase II (potential) and Phase II (potential, weights) are the ablation's + potential and + weights (on copies); the last row that is not an ablation copy is the dual-phase SNN, also tested against the QCFS SNN and against the ANN it was converted from (its QC ANN, on the same test images: a lossless conversion shows no significant difference)."

        line ""

        for d in r.DualPhase |> Array.sortBy _.T do
            sb.Append(statisticsAt r s d.T) |> ignore

        for note in s.Notes do
            line $"- {note}"

        if s.Notes.Length > 0 then
            line ""

    sb.ToString()

/// The ANN imported from ONNX, if the run's ANN was (results.json files older than imports have none).
let private importedAnn (r: RunResults) =
    if isNull r.Imported then None else Array.tryLast r.Imported

/// The summary table: the ANN beside QCFS and every dual-phase stage at each T (test accuracy, %),
/// each with its 95 % interval in brackets when the results have statistics.
let summaryTable (r: RunResults) =
    let sb = StringBuilder()
    let dual = r.DualPhase |> Array.sortBy (fun d -> d.T)

    let qcfsAt t =
        r.Qcfs.Snn |> Array.tryFind (fun q -> q.T = t)

    let ann = if (importedAnn r).IsSome then "imported ANN" else "ANN"

    sb.AppendLine(
        $"| T | {ann} | QCFS SNN | direct | Phase I | + potential | + weights | dual-phase final | QC ANN (L) | E_ANN/E_SNN |"
    )
    |> ignore

    sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|") |> ignore

    for d in dual do
        let ci = ciNote r

        let q =
            qcfsAt d.T
            |> Option.map (fun q -> f2 q.TestAccuracy + ci (Accuracies.qcfsKey d.T))
            |> Option.defaultValue "-"

        let s = d.Snn

        let stage name =
            ci (Accuracies.dualPhaseKey d.T $"snn.{name}")

        let qcAnn = ci (Accuracies.dualPhaseKey d.T "qc_ann_test_accuracy")

        sb.AppendLine(
            $"""| {d.T} | {f2 r.Ann.TestAccuracy} | {q} | {f2 s.Direct}{stage "direct"} | {f2 s.Phase1}{stage "phase1"} | {f2 s.Potential}{stage "potential"} | {f2 s.Weights}{stage "weights"} | **{f2 s.Final}**{stage "final"} | {f2 d.QcAnnTestAccuracy}{qcAnn} ({d.FineTunedL}) | {f2 d.EnergyRatio} |"""
        )
        |> ignore

    sb.ToString()

/// Where a step trained a QC ANN further (distillQC), its accuracy after each step, per L: the
/// Phase I ablation of the ANN (its SNN rows are in the statistics section, one per stage).
let qcAnnStagesSection (r: RunResults) =
    let sb = StringBuilder()
    let line (x: string) = sb.AppendLine x |> ignore

    let entries =
        r.DualPhase
        |> Array.filter (fun d -> not (List.isEmpty (Accuracies.qcAnnStages d)))
        |> Array.distinctBy _.FineTunedL
        |> Array.sortBy _.FineTunedL

    if entries.Length > 0 then
        line "QC ANNs after each step that trained them (test and held-out accuracy, %):"
        line ""
        line "| L | after | test | held-out |"
        line "|---:|---|---:|---:|"

        for d in entries do
            for i, s in Array.indexed d.QcAnnStages do
                let key = Accuracies.dualPhaseKey d.T $"qc_ann_stages[{i}]"
                let test = ciNote r $"{key}.test_accuracy"
                let heldOut = ciNote r $"{key}.held_out_accuracy"

                line $"| {d.FineTunedL} | {s.Label} | {f2 s.TestAccuracy}{test} | {f2 s.HeldOutAccuracy}{heldOut} |"

        line ""

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

/// The QCFS baseline's learned thresholds and the error anatomy of its SNN at every T (stage `qcfs-T<k>`).
let private qcfsAnatomy (q: QcfsResult) =
    let sb = StringBuilder()
    let line (x: string) = sb.AppendLine x |> ignore

    if q.Thresholds.Length > 0 || q.Snn |> Array.exists (fun p -> p.Layers.Length > 0) then
        line $"### QCFS baseline (L = {q.L})"
        line ""

        let thetas =
            q.Thresholds
            |> Array.map (fun t -> $"{t.Layer} {f2 t.Threshold}")
            |> String.concat ", "

        line $"Learned thresholds |theta| per layer: {thetas}."
        line ""

        line
            "| T | layer | theta | mean abs residual | mean residual | mean abs quantization | mean abs clipping | v(T) < 0 | v(T) >= theta |"

        line "|---:|---|---:|---:|---:|---:|---:|---:|---:|"

        for p in q.Snn |> Array.sortBy _.T do
            for l in p.Layers do
                line
                    $"| {p.T} | {l.Name} | {f2 l.Threshold} | {f4 l.ResidualMeanAbs} | {f4 l.ResidualMean} | {f4 l.QuantizationMeanAbs} | {f4 l.ClippingMeanAbs} | {f2 (100.0 * l.NegativeShare)}%% | {f2 (100.0 * l.OverflowShare)}%% |"

        line ""

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
    line "## Accuracy (test, %; 95 % confidence intervals in brackets)"
    line ""

    let ci = ciNote r

    match importedAnn r with
    | Some i ->
        let parameters = Format.thousands i.Parameters

        let reference =
            if i.ComparedImages > 0 then
                $"largest |logit difference| to ONNX Runtime over {i.ComparedImages} test images: {sci i.MaxAbsLogitDiff}"
            else
                "not compared with ONNX Runtime"

        line
            $"""- Imported ANN (`{i.OnnxFile}`, SHA-256 `{i.Sha256.Substring(0, min 16 i.Sha256.Length)}`..., {i.Producer}, {parameters} parameters): **{f2 r.Ann.TestAccuracy}**{ci "ann.test_accuracy"} (held-out {f2 r.Ann.HeldOutAccuracy}{ci "ann.held_out_accuracy"}), {sci r.Ann.MacsPerImage} MACs per image; {reference}"""

        for w in i.Warnings do
            line $"  - import warning: {w}"
    | None ->
        line
            $"""- ReLU ANN: **{f2 r.Ann.TestAccuracy}**{ci "ann.test_accuracy"} (held-out {f2 r.Ann.HeldOutAccuracy}{ci "ann.held_out_accuracy"}), {sci r.Ann.MacsPerImage} MACs per image"""

    line
        $"""- Phase-I clip ANN: {f2 r.ClipAnn.TestAccuracy}{ci "clip_ann.test_accuracy"} (held-out {f2 r.ClipAnn.HeldOutAccuracy}{ci "clip_ann.held_out_accuracy"})"""

    if r.Qcfs.L > 0 then
        let settling =
            match QcfsSettling.note r with
            | "" -> ""
            | n -> $"; {n}"

        line
            $"""- QCFS baseline: QC ANN at L = {r.Qcfs.L}: {f2 r.Qcfs.AnnTestAccuracy}{ci "qcfs.ann_test_accuracy"}{settling}"""

    line ""
    line (summaryTable r)
    sb.Append(qcAnnStagesSection r) |> ignore

    line
        "Stages: direct = the Phase-I clip ANN converted as is; Phase I = the QC ANN fine-tuned at L converted (L = T where Phase I fine-tuned for T, else the largest L below T); + potential / + weights = Phase II steps a, b of PAPER.md (where an ablation step runs them one by one); final = the last network evaluated at T: after Phase II's step c, or after a later step such as fineTuneSnn (its row under Statistics names its lineage and the QC ANN it comes from, for a network grown from another T's by a warm start that T's); QC ANN (L) = the Phase I network's source. Phase II calibrates a network for one T, so it runs at the T that Phase I fine-tuned for; at any other T its columns are —."

    line ""
    line "![accuracy vs T](accuracy_vs_T.png)"
    line ""
    line (statisticsSection r)
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

    line (qcfsAnatomy r.Qcfs)

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
