/// `snn compare`: two runs, or two runs over seeds, compared image by image on the same test
/// images. At every T both have: the dual-phase SNN as each pipeline left it, and the QCFS SNN,
/// each pair with an exact McNemar test (Statistics.paired); over seeds, the mean and sample
/// standard deviation of the differences and their paired t-test (Summary.tTest). A run is the folder of `snn run` or of `snn merge`
/// (whose merged.json keeps the shards' per-image results). Runs on other data are refused before
/// any step record is read; runs need not share a seed, an experiment or a pipeline.
module Snn.Dsl.Pipeline.Compare

open System
open System.IO
open System.Text.Json
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Results

/// Two folders that cannot be compared; the message names them and says why.
type RunsNotComparableException(message: string) =
    inherit ArgumentException(message)

let private refuse message =
    raise (RunsNotComparableException message)

/// One network of the two runs compared at one T (of one seed, in a series).
type Comparison =
    {
        /// The seed both runs ran with, in a comparison of two series; None for two runs.
        Seed: int option
        /// "dual-phase SNN" or "QCFS SNN (L = levels)".
        Network: string
        /// Baseline: the first folder's network, candidate: the second's.
        Test: PairedComparison
    }

/// One network at one T over the seeds both series ran.
type SeedDifference =
    {
        Network: string
        T: int
        Seeds: int[]
        MeanBaseline: float
        MeanCandidate: float
        /// Mean of candidate - baseline, points.
        MeanDifference: float
        /// Sample standard deviation (n - 1) of the differences; NaN for one seed.
        DifferenceStandardDeviation: float
        /// The paired t-test of the differences over the seeds (Summary.tTest; NaN for one seed).
        OverSeedsTest: Summary.TTest
    }

/// What `runs` found.
type Outcome =
    {
        Baseline: string
        Candidate: string
        Comparisons: Comparison[]
        /// Empty for two runs.
        OverSeeds: SeedDifference[]
        /// What could not be compared, and why.
        Notes: string[]
    }

/// One run as compare reads it: the folder of `snn run` (data.json and the step records) or of
/// `snn merge` (merged.json). The data is read before the records, so runs on other data are
/// refused before any record is read.
type private RunView =
    {
        Folder: string
        /// The dataset's name and identity digest.
        Data: Lazy<string * string>
        Records: Lazy<Record list>
    }

/// The dataset and identity digest a run recorded in data.json (RunFolder.ClaimData).
let private dataOf (folder: string) =
    let path = Path.Combine(folder, "data.json")

    if not (File.Exists path) then
        refuse $"{path}: not found: which data the run used is unknown, so its test images cannot be paired"

    let body = RunFolder.ReadRecordFile path
    body["dataset"].GetValue<string>(), body["digest"].GetValue<string>()

let private runView (folder: string) =
    let run = Run folder

    { Folder = run.Folder
      Data = lazy (dataOf run.Folder)
      Records = lazy run.Records }

let private mergedView (folder: string) =
    let merged = lazy (Merge.readMerged folder)

    { Folder = Path.GetFullPath folder
      Data = lazy (merged.Value.Dataset, merged.Value.DataIdentity)
      Records = lazy merged.Value.Records }

/// The run in `dir`, if it holds one: step records (pipeline.json) or merged ones (merged.json).
let private viewOf (dir: string) =
    if File.Exists(Path.Combine(dir, "pipeline.json")) then
        Some(runView dir)
    elif File.Exists(Path.Combine(dir, Merge.MergedFileName)) then
        Some(mergedView dir)
    else
        None

/// A folder as given: one run, or one run per seed (seed-<k>/ folders of `snn run --seeds`).
type private Side =
    | Single of RunView
    | Series of (int * RunView) list

let private seedOf (dir: string) =
    let name = Path.GetFileName dir

    match name.StartsWith "seed-", Int32.TryParse(name.Substring(min 5 name.Length)) with
    | true, (true, k) -> viewOf dir |> Option.map (fun view -> k, view)
    | _ -> None

let private sideOf (folder: string) =
    let full = Path.GetFullPath folder

    if not (Directory.Exists full) then
        refuse $"{folder}: no such folder (expected a run folder of snn run or snn merge)"

    match viewOf full with
    | Some view -> Single view
    | None when File.Exists(Path.Combine(full, "results.json")) ->
        refuse
            $"{folder}: holds results.json but no per-image results (neither pipeline.json nor {Merge.MergedFileName}): merge the shards again with this snn, which keeps them"
    | None ->
        match Directory.GetDirectories full |> Array.choose seedOf |> Array.sortBy fst with
        | [||] ->
            refuse
                $"{folder}: holds no run: expected pipeline.json (a run), {Merge.MergedFileName} (a merged run) or seed-<k> folders holding one (a run over seeds)"
        | runs -> Series(List.ofArray runs)

let private checkSameData (a: RunView) (b: RunView) =
    let dataA, digestA = a.Data.Value
    let dataB, digestB = b.Data.Value

    if digestA <> digestB then
        refuse
            $"{a.Folder} and {b.Folder} ran on other data ({dataA}, identity {digestA[..11]}, against {dataB}, identity {digestB[..11]}): their test images cannot be paired"

/// "seed 1: " in a series, nothing for two runs.
let private at (seed: int option) =
    seed |> Option.map (fun k -> $"seed %d{k}: ") |> Option.defaultValue ""

/// The comparisons of one pair of runs, and notes on what could not be compared.
let private pair (names: string * string) (seed: int option) (a: RunView) (b: RunView) =
    checkSameData a b
    let nameA, nameB = names
    let recordsA, recordsB = a.Records.Value, b.Records.Value

    let test network t (rowA: EvaluationRow) (rowB: EvaluationRow) =
        match Statistics.paired t (nameA, rowA) (nameB, rowB) with
        | Ok c ->
            Choice1Of2
                { Seed = seed
                  Network = network
                  Test = c }
        | Error e -> Choice2Of2 $"{at seed}{network}: {e}"

    let rowsA = Statistics.dualPhaseRows recordsA |> Map.ofList
    let rowsB = Statistics.dualPhaseRows recordsB |> Map.ofList

    let dual =
        [ for t in Seq.append rowsA.Keys rowsB.Keys |> Seq.distinct |> Seq.sort do
              match rowsA.TryFind t, rowsB.TryFind t with
              | Some x, Some y -> test "dual-phase SNN" t x y
              | Some _, None -> Choice2Of2 $"{at seed}dual-phase SNN: T = {t} only in {nameA}"
              | None, _ -> Choice2Of2 $"{at seed}dual-phase SNN: T = {t} only in {nameB}" ]

    let qcfs =
        match Statistics.qcfsRecord recordsA, Statistics.qcfsRecord recordsB with
        | Some x, Some y ->
            let network =
                if x.Levels = y.Levels then
                    $"QCFS SNN (L = {x.Levels})"
                else
                    $"QCFS SNN (L = {x.Levels} vs {y.Levels})"

            [ for p in x.Points do
                  match y.Points |> Array.tryFind (fun q -> q.T = p.T) with
                  | Some q -> test network p.T p q
                  | None -> () ]
        | Some _, None -> [ Choice2Of2 $"{at seed}QCFS SNN: only in {nameA}" ]
        | None, Some _ -> [ Choice2Of2 $"{at seed}QCFS SNN: only in {nameB}" ]
        | None, None -> []

    let all = dual @ qcfs

    (all
     |> List.choose (function
         | Choice1Of2 c -> Some c
         | _ -> None)),
    (all
     |> List.choose (function
         | Choice2Of2 n -> Some n
         | _ -> None))

/// The differences over seeds of each network at each T.
let private overSeeds (comparisons: Comparison list) =
    comparisons
    |> List.groupBy (fun c -> c.Network, c.Test.T)
    |> List.map (fun ((network, t), cs) ->
        let tests = cs |> List.map _.Test |> Array.ofList

        let differences =
            tests |> Array.map (fun c -> c.CandidateAccuracy - c.BaselineAccuracy)

        { Network = network
          T = t
          Seeds = cs |> List.choose _.Seed |> Array.ofList
          MeanBaseline = tests |> Array.map _.BaselineAccuracy |> Summary.mean
          MeanCandidate = tests |> Array.map _.CandidateAccuracy |> Summary.mean
          MeanDifference = Summary.mean differences
          DifferenceStandardDeviation = Summary.standardDeviation differences
          OverSeedsTest = Summary.tTest differences })
    |> Array.ofList

/// How the comparison names a folder: its name, or its full path when both names are the same.
let private namesOf (a: string) (b: string) =
    let full (f: string) =
        Path.GetFullPath(f).TrimEnd(Path.DirectorySeparatorChar)

    let short (f: string) = Path.GetFileName(full f)

    if short a = short b then
        full a, full b
    else
        short a, short b

/// Compares the runs in `baseline` and `candidate` (two run folders, or two folders of runs over
/// seeds, paired by seed). Refuses folders that hold no run, a run against a series, series with
/// no seed in common, and runs on other data.
let runs (baseline: string) (candidate: string) : Outcome =
    let names = namesOf baseline candidate

    let runPairs, seedNotes =
        match sideOf baseline, sideOf candidate with
        | Single a, Single b -> [ None, a, b ], []
        | Series xs, Series ys ->
            let seedsOf runs = runs |> List.map fst |> Set.ofList
            let common = Set.intersect (seedsOf xs) (seedsOf ys)

            if common.IsEmpty then
                refuse
                    $"{baseline} and {candidate} are runs over seeds with no seed in common (seeds {seedsOf xs |> Set.toList} and {seedsOf ys |> Set.toList})"

            let only (folder: string) runs =
                [ for k in Set.difference (seedsOf runs) common -> $"seed {k}: only in {folder}" ]

            [ for k in common -> Some k, List.find (fst >> (=) k) xs |> snd, List.find (fst >> (=) k) ys |> snd ],
            only (fst names) xs @ only (snd names) ys
        | Single _, Series _ ->
            refuse
                $"{baseline} is one run but {candidate} is a run over seeds: compare a run with a run (seed-<k>/ folder)"
        | Series _, Single _ ->
            refuse
                $"{baseline} is a run over seeds but {candidate} is one run: compare a run with a run (seed-<k>/ folder)"

    let results = runPairs |> List.map (fun (seed, a, b) -> pair names seed a b)
    let comparisons = results |> List.collect fst

    { Baseline = fst names
      Candidate = snd names
      Comparisons = Array.ofList comparisons
      OverSeeds =
        if comparisons |> List.exists _.Seed.IsSome then
            overSeeds comparisons
        else
            [||]
      Notes = seedNotes @ (results |> List.collect snd) |> Array.ofList }

/// Writes `outcome` as JSON (results.json's conventions) to `path`, atomically.
let save (path: string) (outcome: Outcome) =
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(Path.GetFullPath path, JsonSerializer.Serialize(outcome, jsonOptions))
