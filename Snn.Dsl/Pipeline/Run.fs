/// A run folder read back, without locking it (notebooks and scripts): its experiment, results,
/// every finished step's records, and the artifacts those steps made (checked by SHA-256 when loaded).
namespace Snn.Dsl.Pipeline

open System.IO
open System.Text.Json.Nodes
open Snn.Dsl

/// The run in `folder` (made by Runner.run).
type Run(folder: string) =
    let root = Path.GetFullPath folder
    let file name = Path.Combine(root, name)

    let steps =
        lazy
            (let manifest = file "pipeline.json"

             if not (File.Exists manifest) then
                 raise (FileNotFoundException($"{manifest}: not found: {root} holds no run (run the experiment first)"))

             match JsonNode.Parse(File.ReadAllText manifest) with
             | :? JsonArray as a ->
                 [ for n in a do
                       let identity = (n["identity"]).GetValue<string>()
                       let name = (n["step"]["step"]).GetValue<string>()
                       let path = Path.Combine(root, "steps", $"{identity.Substring(0, 16)}-{name}.json")

                       if File.Exists path then
                           match StepRecord.codec.Decode path (RunFolder.ReadRecordFile path) with
                           | Ok r -> yield r
                           | Error es -> raise (InvalidDataException(es.Head.Message)) ]
             | _ -> raise (InvalidDataException($"{manifest}: expected a JSON array of steps")))

    /// The folder.
    member _.Folder = root

    /// The experiment that ran.
    member _.Experiment =
        match Experiment.load (file "experiment.json") with
        | Ok e -> e
        | Error es -> raise (InvalidDataException(String.concat "; " es))

    /// results.json, written by the run's report step.
    member _.Results =
        let path = file "results.json"

        if not (File.Exists path) then
            raise (FileNotFoundException($"{path}: not found: the run has not reached its report step"))

        Snn.Dsl.Reporting.Results.load path

    /// The names of the finished steps, in pipeline order.
    member _.FinishedSteps = steps.Value |> List.map _.Name

    /// Every record of the finished steps, in pipeline order.
    member _.Records = steps.Value |> List.collect _.Records

    /// The last version of an artifact the finished steps made.
    member _.Entry(a: Artifact) =
        match
            steps.Value
            |> List.collect _.Artifacts
            |> List.filter (fun e -> e.Artifact = a)
            |> List.tryLast
        with
        | Some e -> e
        | None -> raise (FileNotFoundException($"{root}: no finished step made {a.Description}"))

    /// The last version of an ANN (in evaluation mode, on the CPU); the caller owns it.
    member this.Ann(a: Ann) =
        match ArtifactEntry.load (Path.Combine(root, "artifacts")) TorchSharp.torch.CPU (this.Entry(Network a)) with
        | AnnValue n -> n
        | SpikingValue _ -> invalidOp $"{a.Description} is not an ANN"

    /// The last version of the spiking network for T (after every step that changed it, on the CPU); the
    /// caller owns it.
    member this.Spiking(t: int) =
        match ArtifactEntry.load (Path.Combine(root, "artifacts")) TorchSharp.torch.CPU (this.Entry(Spiking t)) with
        | SpikingValue s -> s
        | AnnValue _ -> invalidOp $"the artifact for T = {t} is not a spiking network"
