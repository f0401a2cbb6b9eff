/// The statistics of a run's report: a 95 % confidence interval for every accuracy (exact
/// Clopper-Pearson) and, on the same test images, exact McNemar tests of the comparisons the
/// report makes: each stage at a T against the one before it, and the dual-phase SNN against the
/// QCFS SNN and against the QC ANN it was converted from (is the conversion lossless?). Built from
/// the step records (per-image results) and the results built from them.
module Snn.Dsl.Reporting.Statistics

open System
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting.Results

/// Confidence level of every interval.
[<Literal>]
let Confidence = 0.95

/// Why Clopper-Pearson: it is exact (its coverage is at least 95 % for every true accuracy and
/// image count, where Wilson's dips below it for some), it rests on the same binomial model as
/// the McNemar test, and at the sizes of these runs (1,000 to 10,000 images, accuracies near 90 %)
/// it is at most about a tenth of a point wider than Wilson's.
let intervalMethod =
    "Clopper-Pearson (exact binomial): coverage at least 95 % for every accuracy and image count (low, high; the Wilson score interval is given beside it as wilson_low, wilson_high)"

let pairedTest =
    "exact McNemar: two-sided binomial test (p = 1/2) on the images exactly one of the two networks classifies right; not corrected for multiple comparisons"

/// Images classified right, from an accuracy (%) measured as 100 correct / images.
let correctOf (accuracy: float) (images: int) =
    int (Math.Round(accuracy * float images / 100.0))

/// The confidence interval of one accuracy.
let interval (a: Accuracies.Accuracy) : AccuracyInterval =
    let correct = correctOf a.Accuracy a.Images
    let low, high = Binomial.clopperPearson Confidence correct a.Images
    let wilsonLow, wilsonHigh = Binomial.wilson Confidence correct a.Images

    { Key = a.Key
      Label = a.Label
      T = a.T
      Accuracy = a.Accuracy
      Images = a.Images
      Correct = correct
      Low = 100.0 * low
      High = 100.0 * high
      WilsonLow = 100.0 * wilsonLow
      WilsonHigh = 100.0 * wilsonHigh }

/// An SNN evaluation as the report names it.
type private Evaluated = { Label: string; Row: EvaluationRow }

/// How many images per-image results count right.
let private countRight (hits: bool[]) =
    hits |> Array.sumBy (fun h -> if h then 1 else 0)

/// The per-image results of an evaluation, checked against its accuracy.
let private hitsOf (e: Evaluated) =
    PerImage.decode e.Row.Images e.Row.PerImageCorrect
    |> Result.bind (fun hits ->
        let counted = countRight hits
        let expected = correctOf e.Row.Accuracy e.Row.Images

        if counted = expected then
            Ok hits
        else
            Error $"its per-image results count %d{counted} right, its accuracy %d{expected}")

/// One side of a paired test: its name, accuracy on the compared images, and per-image results.
type private Side =
    { Name: string
      Accuracy: float
      Hits: Result<bool[], string> }

let private sideOf (e: Evaluated) =
    { Name = e.Label
      Accuracy = e.Row.Accuracy
      Hits = hitsOf e }

/// The exact McNemar test of `candidate` against `baseline` on their test images.
let private compareSides (t: int) (baseline: Side) (candidate: Side) =
    let what = $"T = %d{t}: %s{candidate.Name} vs %s{baseline.Name}"

    match baseline.Hits, candidate.Hits with
    | Error e, _ -> Error $"%s{what}: not compared, %s{baseline.Name}: %s{e}"
    | _, Error e -> Error $"%s{what}: not compared, %s{candidate.Name}: %s{e}"
    | Ok a, Ok b when a.Length <> b.Length ->
        Error $"%s{what}: not compared, evaluated on %d{a.Length} and %d{b.Length} images"
    | Ok a, Ok b ->
        let only (x: bool[]) (y: bool[]) =
            Array.fold2 (fun n p q -> if p && not q then n + 1 else n) 0 x y

        let bOnly = only a b
        let cOnly = only b a

        Ok
            { T = t
              Baseline = baseline.Name
              Candidate = candidate.Name
              BaselineAccuracy = baseline.Accuracy
              CandidateAccuracy = candidate.Accuracy
              Images = a.Length
              BaselineOnly = bOnly
              CandidateOnly = cOnly
              PValue = Binomial.mcNemar bOnly cOnly
              Log10PValue = Binomial.mcNemarLog10 bOnly cOnly }

let private compare (t: int) (baseline: Evaluated) (candidate: Evaluated) =
    compareSides t (sideOf baseline) (sideOf candidate)

/// The exact McNemar test of two SNN evaluations at T on the same test images, each named as
/// the comparison should name it (evaluations of two runs, say). An error says why they cannot
/// be compared: no per-image results, results that disagree with the accuracy, or other images.
let paired (t: int) (baseline: string * EvaluationRow) (candidate: string * EvaluationRow) =
    let evaluated (label, row) = { Label = label; Row = row }
    compare t (evaluated baseline) (evaluated candidate)

/// Whether `row` can be the dual-phase SNN at T: a spiking network made by conversion (not the
/// clip ANN converted as is) evaluated as itself (not a probe on a modified copy).
let private isDualPhase (t: int) (row: EvaluationRow) =
    row.T = t && row.MadeFor.IsSome && not row.Probe

/// The dual-phase SNN at each T as the pipeline left it, ascending in T: the last evaluation at
/// that T that `isDualPhase`.
let dualPhaseRows (records: Record list) : (int * EvaluationRow) list =
    records
    |> List.choose (function
        | SnnEvaluated e when isDualPhase e.T e -> Some e
        | _ -> None)
    |> List.groupBy _.T
    |> List.map (fun (t, rows) -> t, List.last rows)
    |> List.sortBy fst

/// The dual-phase SNN at T as the pipeline left it (see `dualPhaseRows`).
let dualPhaseRow (records: Record list) (t: int) =
    dualPhaseRows records |> List.tryFind (fst >> (=) t) |> Option.map snd

/// The QCFS baseline's record: the last one, if any step recorded it.
let qcfsRecord (records: Record list) =
    records
    |> List.choose (function
        | QcfsEvaluated q -> Some q
        | _ -> None)
    |> List.tryLast

/// How the report names the ANN a spiking network was converted from.
let sourceLabel (a: Ann) =
    match a with
    | QcAnn l -> $"QC ANN (L = %d{l})"
    | other -> other.Description

/// The ANN `row`'s network was converted from as it was then: the last record of that ANN before
/// the row in pipeline order (a later step may have trained it on).
let private sourceRecord (records: Record list) (row: EvaluationRow) =
    records
    |> List.takeWhile (function
        | SnnEvaluated r -> not (obj.ReferenceEquals(r, row))
        | _ -> true)
    |> List.choose (function
        | AnnTrained a when a.Ann = row.Source -> Some a
        | _ -> None)
    |> List.tryLast

/// The source ANN's side of a test against an SNN evaluated on the first `images` test images (the
/// SNN test images are the head of the test split, in order): its results on those images.
let private annSide (a: AnnRecord) (images: int) =
    let hits =
        PerImage.decode a.TestImages a.TestPerImageCorrect
        |> Result.bind (fun h ->
            let counted = countRight h

            if counted <> correctOf a.TestAccuracy a.TestImages then
                Error
                    $"its per-image results count %d{counted} right, its accuracy %d{correctOf a.TestAccuracy a.TestImages}"
            elif h.Length < images then
                Error $"tested on %d{h.Length} images, fewer than the SNN's %d{images}"
            else
                Ok(Array.sub h 0 images))

    { Name = sourceLabel a.Ann
      Accuracy =
        match hits with
        | Ok h when images > 0 -> 100.0 * float (countRight h) / float images
        | _ -> a.TestAccuracy
      Hits = hits }

/// The SNN evaluations at T in pipeline order: direct conversion first, then every row of the
/// spiking networks (named as results.json's stages name them).
let private chainAt (rows: EvaluationRow list) (entry: DualPhaseEntry) =
    let t = entry.T

    let direct =
        rows
        |> List.filter (fun r -> r.MadeFor.IsNone && r.T = t)
        |> List.tryLast
        |> Option.map (fun r -> { Label = "direct"; Row = r })

    let spiking = rows |> List.filter (fun r -> r.MadeFor.IsSome && r.T = t)

    let labels =
        if entry.Stages.Length = spiking.Length then
            entry.Stages |> Array.map _.Label |> List.ofArray
        else
            spiking |> List.map (fun r -> SpikingRuns.label r.Lineage)

    Option.toList direct
    @ List.map2 (fun label row -> { Label = label; Row = row }) labels spiking

/// The statistics of a run from its records and the results built from them.
let ofRun (records: Record list) (r: RunResults) : RunStatistics =
    let rows =
        records
        |> List.choose (function
            | SnnEvaluated e -> Some e
            | _ -> None)

    let qcfs = qcfsRecord records

    let perT =
        [ for entry in r.DualPhase |> Array.sortBy _.T ->
              let chain = chainAt rows entry
              let stages = List.pairwise chain |> List.map (fun (b, c) -> compare entry.T b c)

              // The dual-phase SNN as the pipeline left it: its last row that is not a probe.
              let dual = chain |> List.filter (fun e -> isDualPhase entry.T e.Row) |> List.tryLast

              let point =
                  qcfs
                  |> Option.bind (fun q ->
                      q.Points
                      |> Array.tryFind (fun p -> p.T = entry.T)
                      |> Option.map (fun p ->
                          { Label = $"QCFS SNN (L = %d{q.Levels})"
                            Row = p }))

              let versusQcfs =
                  match point, dual with
                  | Some q, Some d -> [ compare entry.T q d ]
                  | _ -> []

              let versusSource =
                  match dual with
                  | Some d ->
                      match sourceRecord records d.Row with
                      | Some a -> [ compareSides entry.T (annSide a d.Row.Images) (sideOf d) ]
                      | None -> []
                  | None -> []

              stages, versusQcfs, versusSource ]

    let stages = perT |> List.collect (fun (s, _, _) -> s)
    let versus = perT |> List.collect (fun (_, v, _) -> v)
    let versusSource = perT |> List.collect (fun (_, _, v) -> v)

    let made xs =
        xs
        |> List.choose (function
            | Ok c -> Some c
            | Error _ -> None)
        |> Array.ofList

    let failed xs =
        xs
        |> List.choose (function
            | Error e -> Some e
            | Ok _ -> None)

    { Confidence = Confidence
      IntervalMethod = intervalMethod
      PairedTest = pairedTest
      Accuracies =
        Accuracies.ofResults r
        |> List.filter (fun a -> a.Images > 0)
        |> List.map interval
        |> Array.ofList
      Stages = made stages
      VersusQcfs = made versus
      VersusSource = made versusSource
      Notes = failed stages @ failed versus @ failed versusSource |> Array.ofList }
