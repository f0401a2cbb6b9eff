/// The folder of one run: checkpoints and finished-stage records, so that running the same
/// command again resumes where it stopped and never redoes finished work. Every file is written
/// atomically (temporary file, then rename).
namespace Snn.Dsl.Pipeline

open System.IO
open System.Text.Json
open Snn.Dsl.Reporting

/// The run folder: <root>/checkpoints/*.ckpt (modules, per epoch and per phase) and
/// <root>/stages/*.json (results of finished stages), beside report.md, results.json and the plots.
type RunFolder(root: string) =
    do Directory.CreateDirectory(Path.Combine(root, "checkpoints")) |> ignore
    do Directory.CreateDirectory(Path.Combine(root, "stages")) |> ignore

    /// The folder's path.
    member _.Root = root

    /// Path of the checkpoint named <paramref name="name"/>.
    member _.Checkpoint(name: string) =
        Path.Combine(root, "checkpoints", name + ".ckpt")

    /// The recorded result of a finished stage, if there is one.
    member _.TryStage<'T>(name: string) : 'T option =
        let path = Path.Combine(root, "stages", name + ".json")

        if File.Exists path then
            try
                Some(JsonSerializer.Deserialize<'T>(File.ReadAllText path, Results.jsonOptions))
            with :? JsonException as e ->
                raise (
                    InvalidDataException(
                        $"{path}: a stage record that cannot be read ({e.Message}); delete it to redo that stage",
                        e
                    )
                )
        else
            None

    /// Records a finished stage's result atomically.
    member _.SaveStage<'T>(name: string, value: 'T) =
        let path = Path.Combine(root, "stages", name + ".json")
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(value, Results.jsonOptions))
        File.Move(path + ".tmp", path, true)

    /// Runs <paramref name="work"/> unless the stage <paramref name="name"/> is already recorded.
    member this.Stage<'T>(name: string, work: unit -> 'T) : 'T =
        match this.TryStage<'T> name with
        | Some v -> v
        | None ->
            let v = work ()
            this.SaveStage(name, v)
            v
