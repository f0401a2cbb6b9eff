/// What a run will do, said before it starts: which steps are finished and skipped, which will
/// be (re)computed, and why (new, unfinished, its parameters changed, or a step it depends on
/// changed).
module Snn.Dsl.Pipeline.Explain

open System.IO
open System.Text.Json.Nodes

/// The file of a step's record.
let recordPath (folder: RunFolder) (p: PlannedStep) =
    Path.Combine(folder.Steps, $"{p.Identity.Substring(0, 16)}-{p.Step.Name}.json")

/// The previous run's manifest in this folder (index -> step JSON), if any.
let private previous (folder: RunFolder) =
    let path = Path.Combine(folder.Root, "pipeline.json")

    try
        match JsonNode.Parse(File.ReadAllText path) with
        | :? JsonArray as a ->
            a
            |> Seq.choose (fun n ->
                match n with
                | :? JsonObject as o -> Some(o["index"].GetValue<int>(), (o["step"] :?> JsonObject))
                | _ -> None)
            |> Map.ofSeq
        | _ -> Map.empty
    with _ ->
        Map.empty

/// The top-level keys whose values differ, as "key: old -> new".
let private changes (before: JsonObject) (after: JsonObject) =
    let keys =
        Seq.append (before |> Seq.map _.Key) (after |> Seq.map _.Key) |> Seq.distinct

    [ for k in keys do
          let b = if before.ContainsKey k then before[k] else null
          let a = if after.ContainsKey k then after[k] else null

          if not (JsonNode.DeepEquals(b, a)) then
              let show (n: JsonNode) =
                  if isNull n then "(absent)" else n.ToJsonString()

              $"%s{k}: %s{show b} -> %s{show a}" ]

/// One line per step: skipped, or (re)computed and why. `isDone` says whether a step's record exists.
let lines (folder: RunFolder) (plan: PlannedStep list) (isDone: PlannedStep -> bool) =
    let before = previous folder
    let pending = plan |> List.filter (isDone >> not) |> List.map _.Index |> Set.ofList

    let producer (p: PlannedStep) (a: Artifact) =
        plan
        |> List.filter (fun q -> q.Index < p.Index && q.Makes |> List.exists (fun (m, _, _) -> m = a))
        |> List.tryLast

    [ for p in plan do
          let name = $"step %d{p.Index} (%s{p.Step.Label})"

          if not (pending.Contains p.Index) then
              $"%s{name}: finished earlier, skipped"
          else
              let reported =
                  if p.Declaration.ReadsRecords then
                      plan |> List.filter (fun q -> q.Index < p.Index && q.Declaration.Records)
                  else
                      []

              let dependsOn =
                  (p.Declaration.Needs |> List.choose (producer p)) @ reported
                  |> List.filter (fun q -> pending.Contains q.Index)
                  |> List.map _.Index
                  |> List.distinct
                  |> List.sort

              let reason =
                  match before.TryFind p.Index with
                  | Some old when (old["step"].GetValue<string>()) = p.Step.Name ->
                      match changes old p.Step.Json with
                      | [] when not dependsOn.IsEmpty ->
                          let ds = dependsOn |> List.map string |> String.concat ", "
                          $"it depends on step(s) %s{ds}, which will run"
                      | [] -> "not finished yet (or its data, seed or network changed)"
                      | cs -> "its parameters changed (" + String.concat "; " cs + ")"
                  | _ when not dependsOn.IsEmpty ->
                      let ds = dependsOn |> List.map string |> String.concat ", "
                      $"new here; it depends on step(s) %s{ds}"
                  | _ -> "new here"

              $"%s{name}: will run: %s{reason}" ]
