/// Reading the figures: numbers of a measurement's JSON, the simulation figures of several child
/// processes merged, and phase2_share from a pipeline run's results.json or stage records.
module Snn.Cli.Bench.Figures

open System.IO
open System.Text.Json.Nodes
open Snn.Cli.Bench.Measure

/// A number of a measurement's JSON, whether it was parsed from a child's report or built here
/// (an in-memory JsonValue keeps its .NET type, and an int does not convert to float by itself).
let num (o: JsonObject) (key: string) =
    let v = o[key].AsValue()

    match v.TryGetValue<float>() with
    | true, x -> x
    | _ -> float (v.GetValue<int>())

/// One simulation figure from several child processes: the repetitions of all of them pooled
/// (median, min, max), agreement the lowest, peak the highest.
let mergeSims (parts: JsonObject list) : JsonObject =
    let all (key: string) =
        parts
        |> List.collect (fun (p: JsonObject) ->
            p[key].AsArray() |> Seq.map (fun n -> n.GetValue<float>()) |> List.ofSeq)

    let o, nv = all "ratios", all "naive_ratios"
    let images = num parts.Head "images"
    let perSecond key = images / median (all key)

    JsonObject(
        dict
            [ "T", JsonValue.Create(int (num parts.Head "T")) :> JsonNode
              "processes", JsonValue.Create parts.Length
              "ratio", JsonValue.Create(median o)
              "ratio_min", JsonValue.Create(List.min o)
              "ratio_max", JsonValue.Create(List.max o)
              "naive_ratio", JsonValue.Create(median nv)
              "naive_ratio_min", JsonValue.Create(List.min nv)
              "naive_ratio_max", JsonValue.Create(List.max nv)
              "ratio_per_process", floats [ for p in parts -> num p "ratio" ]
              "agree", JsonValue.Create(parts |> List.map (fun p -> num p "agree") |> List.min)
              "agree_with_ann", JsonValue.Create(parts |> List.map (fun p -> num p "agree_with_ann") |> List.min)
              "images", JsonValue.Create(int images)
              "ann_seconds", JsonValue.Create(median (all "ann_times"))
              "seconds", JsonValue.Create(median (all "our_times"))
              "naive_seconds", JsonValue.Create(median (all "naive_times"))
              "images_per_second", JsonValue.Create(perSecond "our_times")
              "naive_images_per_second", JsonValue.Create(perSecond "naive_times")
              "ann_images_per_second", JsonValue.Create(perSecond "ann_times")
              "peak_working_set_mb",
              JsonValue.Create(parts |> List.map (fun p -> num p "peak_working_set_mb") |> List.max) ]
    )

/// phase2_share from a pipeline's results.json, when it exists and has both wall times.
let phase2FromResults (path: string) =
    if File.Exists path then
        try
            let w = JsonNode.Parse(File.ReadAllText path)["wall_seconds"]
            let p1 = w["phase1"].GetValue<float>()
            let p2 = w["phase2"].GetValue<float>()
            if p1 > 0.0 then Some(p2 / p1, p1, p2) else None
        with _ ->
            None
    else
        None

/// phase2_share from the stage records of a pipeline run that has not finished yet: Phase I = the
/// clip stage plus every fine-tune stage, Phase II = the calibration time of every phase2-T{T}
/// stage; only when Phase II is recorded for every fine-tuned L (= T).
let phase2FromStages (stages: string) =
    let read (name: string) =
        let path = Path.Combine(stages, name)

        if File.Exists path then
            Some(JsonNode.Parse(File.ReadAllText path))
        else
            None

    try
        match read "clip.json" with
        | None -> None
        | Some clip ->
            let fineTuned =
                if Directory.Exists stages then
                    Directory.GetFiles(stages, "finetune-L*.json")
                    |> Array.map (fun f -> int (Path.GetFileNameWithoutExtension(f).Substring("finetune-L".Length)))
                    |> Array.sort
                else
                    [||]

            let phase2 = fineTuned |> Array.map (fun l -> read $"phase2-T{l}.json")

            if fineTuned.Length = 0 || phase2 |> Array.exists Option.isNone then
                None
            else
                let p1 =
                    clip["seconds"].GetValue<float>()
                    + (fineTuned
                       |> Array.sumBy (fun l ->
                           let stage = (read $"finetune-L{l}.json").Value
                           stage["seconds"].GetValue<float>()))

                let p2 =
                    phase2
                    |> Array.sumBy (fun s ->
                        let entry: JsonNode = s.Value["entry"]
                        entry["calibration_seconds"].GetValue<float>())

                if p1 > 0.0 then Some(p2 / p1, p1, p2) else None
    with _ ->
        None

/// phase2_share recorded by a pipeline run: from its results.json, else from the stage records
/// beside it (a run not finished yet); with the file or folder it was read from.
let phase2Recorded (resultsPath: string) =
    let stagesPath =
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath resultsPath), "stages")

    phase2FromResults resultsPath
    |> Option.map (fun r -> r, resultsPath)
    |> Option.orElse (
        phase2FromStages stagesPath
        |> Option.map (fun r -> r, stagesPath + " (run not finished)")
    )

/// phase2_share as bench.json records it: the share, where it came from (the "phase2" object),
/// and the peak working set of the estimate's process when it was estimated.
type Phase2Figures =
    { Share: float
      Node: JsonObject
      Peak: float option }
