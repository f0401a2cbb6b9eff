/// `snn merge`: the partial results of the n shards of a run (`snn run --shard i/n`) made into
/// the results.json and report of one run. Counts and exact sums add, so the merged figures
/// equal an unsharded run's (wall times aside); shards of other experiments, data or seeds, or
/// shards whose shared steps disagree, are refused with the reason.
module Snn.Dsl.Pipeline.Merge

open System
open System.IO
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Reporting

/// Shards that cannot be merged; the message says why and names the folders.
type ShardMismatchException(message: string) =
    inherit ArgumentException(message)

let private refuse message = raise (ShardMismatchException message)

/// The experiment's JSON without what may differ between the shards of one run: the output
/// folder and the device.
let private comparable (experiment: Text.Json.Nodes.JsonNode) =
    let o = experiment.DeepClone().AsObject()
    o.Remove "output_folder" |> ignore
    o.Remove "device" |> ignore
    o.ToJsonString()

/// Checks that the partials are the n shards of one run, each once; returns them in shard order.
let private checkSet (parts: (string * Partial) list) =
    let folder0, first = parts.Head

    for folder, p in parts.Tail do
        if p.Root <> first.Root || p.DataIdentity <> first.DataIdentity then
            refuse
                $"{folder} and {folder0} are shards of different runs (experiment seed, network, data settings or dataset files differ: root identity {p.Root[..11]} vs {first.Root[..11]}, data {p.DataIdentity[..11]} vs {first.DataIdentity[..11]})"

        if comparable p.Experiment <> comparable first.Experiment then
            refuse
                $"{folder} and {folder0} ran different experiments (their experiment JSON differs in more than output_folder and device)"

        if p.Shard.Count <> first.Shard.Count then
            refuse $"{folder} is shard {p.Shard} but {folder0} is shard {first.Shard}: the shard counts differ"

    let n = first.Shard.Count

    let byIndex = parts |> List.groupBy (fun (_, p) -> p.Shard.Index) |> Map.ofList

    let problems =
        [ for i in 1..n do
              match byIndex.TryFind i with
              | None -> $"shard {i}/{n} is missing"
              | Some [ _ ] -> ()
              | Some dup -> $"""shard {i}/{n} is given twice ({dup |> List.map fst |> String.concat ", "})""" ]

    if not problems.IsEmpty then
        refuse (String.Join("; ", problems))

    [ for i in 1..n -> byIndex[i].Head ]

/// The evaluation batch size of the shards' experiment (its data.eval_batch_size, else the default).
let private evalBatch (p: Partial) =
    match p.Experiment["data"] with
    | null -> Data.DefaultEvalBatchSize
    | data ->
        match data["eval_batch_size"] with
        | null -> Data.DefaultEvalBatchSize
        | n -> n.GetValue<int>()

/// The ANN test accuracy of the whole test set from the shards' accuracies on their slices.
let private annAccuracy (facts: DataFacts) (parts: Partial list) (accuracies: float list) =
    if accuracies |> List.exists Double.IsNaN then
        nan
    else
        let sizes =
            parts |> List.map (fun p -> snd (Shard.images p.Shard facts.Test (evalBatch p)))

        let correct =
            List.map2 (fun a (n: int) -> int64 (Math.Round(a * float n / 100.0))) accuracies sizes

        let seen = List.sum sizes |> int64

        if seen = 0L then
            0.0
        else
            100.0 * float (List.sum correct) / float seen

/// The shards' per-image test results of an ANN concatenated in shard order (shard i's images come
/// before shard i + 1's); null when a shard's record has none.
let private mergeHits (anns: AnnRecord list) =
    let decoded =
        anns |> List.map (fun a -> PerImage.decode a.TestImages a.TestPerImageCorrect)

    match decoded |> List.choose Result.toOption with
    | hits when hits.Length = decoded.Length -> Array.concat hits |> PerImage.encode
    | _ -> null

let private mergeAnn facts parts (folder: string) (anns: AnnRecord list) =
    let a = anns.Head

    for b in anns.Tail do
        if b.HeldOutAccuracy <> a.HeldOutAccuracy && not (Double.IsNaN a.HeldOutAccuracy) then
            refuse
                $"the shards trained different networks ({a.Ann}: held-out accuracy %g{a.HeldOutAccuracy} vs %g{b.HeldOutAccuracy} among {folder}): they cannot be merged"

    { a with
        TestAccuracy = annAccuracy facts parts (anns |> List.map _.TestAccuracy)
        TestImages = anns |> List.sumBy _.TestImages
        TestPerImageCorrect = mergeHits anns }

/// The row of the whole test set from the shards' rows, in shard order: the sums add and the
/// per-image results are concatenated (shard i's images come before shard i + 1's).
let private mergeRow (rows: EvaluationRow list) =
    match rows |> List.map _.Tally with
    | tallies when tallies |> List.forall Option.isSome ->
        let merged =
            try
                tallies |> List.map Option.get |> Tally.sum
            with :? ArgumentException as e ->
                refuse $"the shards' evaluations at T = {rows.Head.T} cannot be merged: {e.Message}"

        { SpikingRuns.withTally rows.Head merged with
            Seconds = rows |> List.sumBy _.Seconds }
    | _ -> refuse "an evaluation record has no tally (written by an older snn): rerun the shards"

let private mergeRecord facts (parts: Partial list) (folder: string) (records: Record list) =
    match records.Head with
    | AnnTrained _ ->
        records
        |> List.map (function
            | AnnTrained a -> a
            | _ -> refuse "the shards' records differ in kind: not the same pipeline")
        |> mergeAnn facts parts folder
        |> AnnTrained
    | SnnEvaluated _ ->
        records
        |> List.map (function
            | SnnEvaluated r -> r
            | _ -> refuse "the shards' records differ in kind: not the same pipeline")
        |> mergeRow
        |> SnnEvaluated
    | QcfsEvaluated q ->
        let qs =
            records
            |> List.map (function
                | QcfsEvaluated q -> q
                | _ -> refuse "the shards' records differ in kind: not the same pipeline")

        QcfsEvaluated
            { q with
                Ann = mergeAnn facts parts folder (qs |> List.map _.Ann)
                Points =
                    q.Points
                    |> Array.mapi (fun k _ -> qs |> List.map (fun q -> q.Points[k]) |> mergeRow) }
    | other -> other

/// The shards' partial results in `folders`, checked to be shards 1..n of one run and returned
/// in shard order, and the run's step records merged from theirs (as one unsharded run's).
let records (folders: string list) : Partial list * Record list =
    if folders.IsEmpty then
        invalidArg "folders" "snn merge needs the run folders of the shards"

    let parts = checkSet [ for f in folders -> f, Partial.read f ]
    let partials = parts |> List.map snd
    let first = partials.Head

    let lengths = partials |> List.map _.Records.Length |> List.distinct

    if lengths.Length > 1 then
        refuse "the shards have different numbers of step records: a shard is unfinished or ran another pipeline"

    partials,
    [ for k in 0 .. first.Records.Length - 1 ->
          mergeRecord
              first.Facts
              partials
              (folders |> String.concat ", ")
              (partials |> List.map (fun p -> p.Records[k])) ]

/// What a merged run keeps beside results.json: the data it ran on and its step records merged
/// from the shards' (each evaluation row with the per-image results of the whole test set), so
/// `snn compare` can pair its test images with another run's.
type Merged =
    {
        /// The dataset's name, as data.json of a run records it.
        Dataset: string
        /// The dataset's identity digest (data.json's "digest"): runs pair only on the same data.
        DataIdentity: string
        Records: Record list
    }

/// The file of `Merged` in the folder `merge` writes.
[<Literal>]
let MergedFileName = "merged.json"

let private mergedCodec: Codec<Merged> =
    Codec.record (fun d i rs ->
        { Dataset = d
          DataIdentity = i
          Records = rs })
    |> Codec.field "dataset" _.Dataset Codec.string
    |> Codec.field "data_identity" _.DataIdentity Codec.string
    |> Codec.field "records" _.Records (Codec.list Records.codec)
    |> Codec.build

/// The merged records in a folder `merge` wrote; errors name the file.
let readMerged (folder: string) : Merged =
    let path = Path.Combine(Path.GetFullPath folder, MergedFileName)

    if not (File.Exists path) then
        raise (FileNotFoundException($"{path}: not found: {folder} is not a folder written by snn merge", path))

    Codec.readFile path mergedCodec

/// Merges the shards in `folders` into `out`: results.json, report.md and the plots (as the
/// experiment's report step would write them), experiment.json and merged.json (`Merged`).
/// Returns the results.
let merge (folders: string list) (out: string) : Results.RunResults =
    let partials, records = records folders
    let first = partials.Head

    let experiment =
        match Experiment.fromJson (first.Experiment.ToJsonString()) with
        | Ok e -> { e with OutputFolder = out }
        | Error es -> raise (InvalidDataException(String.concat "; " es))

    let source, spec =
        match Experiment.network experiment with
        | Ok network -> network
        | Error problems -> raise (InvalidDataException(String.concat "; " problems))

    let info = Experiment.runInfo experiment source spec

    let results =
        Build.build info first.Facts first.DataIdentity records (partials |> List.sumBy _.Seconds)

    let plots =
        experiment.Pipeline
        |> List.tryFind (fun s -> s.Name = "report")
        |> Option.map (fun s ->
            match s.Json["plots"] with
            | null -> true
            | n -> n.GetValue<bool>())
        |> Option.defaultValue true

    Directory.CreateDirectory out |> ignore
    Results.save (Path.Combine(out, "results.json")) results
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(Path.Combine(out, "experiment.json"), Experiment.toJson experiment)

    let merged =
        { Dataset = first.Facts.Dataset.Name
          DataIdentity = first.DataIdentity
          Records = records }

    Snn.Core.Checkpoints.AtomicFile.WriteAllText(
        Path.Combine(out, MergedFileName),
        (mergedCodec.Encode merged).ToJsonString()
    )

    let files = if plots then Plots.writeAll out results else []
    Markdown.save out results files |> ignore
    results
