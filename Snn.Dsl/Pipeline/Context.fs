/// The run as one step sees it (StepContext), and the record a finished step leaves in the run
/// folder. A step may use only what it declared: reading an artifact it did not declare it needs,
/// or storing one it did not declare it makes, is an error that names the step.
namespace Snn.Dsl.Pipeline

open System.IO
open Snn.Dsl
open Snn.Dsl.Json

/// What a finished step leaves in the run folder.
type StepRecord =
    { Identity: string
      Index: int
      Name: string
      Artifacts: ArtifactEntry list
      Records: Record list
      Seconds: float }

module StepRecord =

    let codec: Codec<StepRecord> =
        Codec.record (fun i x n a r s ->
            { Identity = i
              Index = x
              Name = n
              Artifacts = a
              Records = r
              Seconds = s })
        |> Codec.field "identity" _.Identity Codec.string
        |> Codec.field "index" _.Index Codec.int
        |> Codec.field "step" _.Name Codec.string
        |> Codec.field "artifacts" _.Artifacts (Codec.list ArtifactEntry.codec)
        |> Codec.field "records" _.Records (Codec.list Records.codec)
        |> Codec.field "seconds" _.Seconds Codec.float
        |> Codec.build

/// The context of one running step.
type RunContext
    (
        planned: PlannedStep,
        info: RunInfo,
        data: RunData,
        sink: IProgressSink,
        store: ArtifactStore,
        folder: RunFolder,
        earlier: Record list,
        secondsSoFar: float
    ) =
    inherit StepContext()
    let records = ResizeArray<Record>()
    let made = ResizeArray<ArtifactEntry>()
    let mutable carried = 0.0
    let name = $"step {planned.Index} ({planned.Step.Name})"

    let makes (a: Artifact) =
        planned.Makes |> List.tryFind (fun (m, _, _) -> m = a)

    let check (a: Artifact) =
        if not (List.contains a planned.Declaration.Needs || (makes a).IsSome) then
            invalidOp $"{name} uses {a.Description}, which it did not declare it needs"

    let madeHere (a: Artifact) =
        made |> Seq.exists (fun e -> e.Artifact = a)

    /// Time earlier, interrupted runs spent on this step.
    member _.Carried = carried

    /// What the step stored, in order.
    member _.Made = List.ofSeq made
    /// What the step recorded (stored artifacts' records included).
    member _.StepRecords = List.ofSeq records

    override _.Index = planned.Index
    override _.Seed = info.Seed
    override _.Spec = info.Spec
    override _.Data = data
    override _.Progress = sink
    override _.Artifacts = store.Keys
    override _.Folder = folder.Root
    override _.Info = info
    override _.SecondsSoFar = secondsSoFar
    override _.Records = earlier

    override _.Descriptor a =
        check a
        store.Entry(a).Descriptor

    override _.Ann a =
        check (Network a)

        match store.Value(Network a) with
        | AnnValue n -> n
        | SpikingValue _ -> invalidOp $"{a.Description} is not an ANN"

    override _.Spiking t =
        check (Spiking t)

        match store.Value(Spiking t) with
        | SpikingValue s -> s
        | AnnValue _ -> invalidOp $"the artifact for T = {t} is not a spiking network"

    override _.Put(a, value, rs) =
        match makes a with
        | None -> invalidOp $"{name} stores {a.Description}, which it did not declare it makes"
        | Some(_, descriptor, identity) ->
            let reused =
                madeHere a |> not
                && store.Contains a
                && store.Entry(a).Identity = identity
                && (match store.Value a, value with
                    | AnnValue x, AnnValue y -> obj.ReferenceEquals(x, y)
                    | SpikingValue x, SpikingValue y -> obj.ReferenceEquals(x, y)
                    | _ -> false)

            let entry =
                if reused then
                    store.Entry a
                else
                    store.Save(a, identity, descriptor, value, rs)

            made.Add entry
            records.AddRange rs

    override _.TryReuse a =
        match makes a with
        | None -> None
        | Some(_, _, identity) ->
            match store.TrySaved(a, identity) with
            | Some e ->
                sink.Log $"{name}: {a.Description} was made earlier with the same settings: reusing it"
                store.Register e

                carried <-
                    carried
                    + (e.Records
                       |> List.sumBy (function
                           | AnnTrained r -> r.Seconds
                           | _ -> 0.0))

                Some(store.Value a, e.Records)
            | None -> None

    override _.Record r = records.Add r
    override _.Carry seconds = carried <- carried + seconds

    override _.CheckpointPath a =
        match makes a with
        | Some(_, _, identity) ->
            Path.Combine(folder.Checkpoints, $"{ArtifactEntry.slug a}-{identity.Substring(0, 16)}.ckpt")
        | None -> invalidOp $"{name} asks for a checkpoint of {a.Description}, which it did not declare it makes"
