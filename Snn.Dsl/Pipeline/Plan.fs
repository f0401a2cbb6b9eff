/// The pipeline before it runs: every step's declaration checked against what the earlier steps
/// make (all problems at once, before any tensor exists), and every step's identity, so that a
/// rerun skips finished steps and a changed step invalidates exactly what depends on it.
namespace Snn.Dsl.Pipeline

open System.Text.Json.Nodes
open Snn.Dsl
open Snn.Dsl.Json

/// A problem of a pipeline: the step (index and name; None for the pipeline as a whole) and what is wrong.
type PipelineError =
    { Index: int option
      Step: string
      Problem: string }

    member this.Message =
        match this.Index with
        | Some i -> $"step %d{i} (%s{this.Step}): %s{this.Problem}"
        | None -> $"pipeline: %s{this.Problem}"

/// A step with its declaration and identities.
type PlannedStep =
    {
        Index: int
        Step: IStep
        Declaration: Declaration
        /// SHA-256 over the run's root identity, the step's JSON, the identities of what it needs
        /// and, for a step that reads the records (the report), the identities of the recording steps before it.
        Identity: string
        /// The identity of each artifact it needs (the current version when the step runs).
        Needs: (Artifact * string) list
        /// The identity each made artifact will have.
        Makes: (Artifact * Descriptor * string) list
    }

module Plan =

    let private applyMakes (s: PlanState) (index: int) (d: Declaration) =
        { s with
            Artifacts = d.Makes |> List.fold (fun m (a, desc) -> Map.add a desc m) s.Artifacts
            MadeBy = d.Makes |> List.fold (fun m (a, _) -> Map.add a index m) s.MadeBy
            Recorded = if d.Records then s.Recorded @ [ index ] else s.Recorded }

    /// The first state of a pipeline over `spec` from `source`.
    let initialFrom (source: NetworkSource) (spec: NetworkSpec) (data: DataFacts option) =
        { Index = 0
          Spec = spec
          Artifacts = Map.empty
          MadeBy = Map.empty
          Recorded = []
          Data = data
          Source = source }

    /// The first state of a pipeline over a declared `spec`.
    let initial (spec: NetworkSpec) (data: DataFacts option) = initialFrom DeclaredNetwork spec data

    /// Every step's declaration, in order (each against the state the earlier steps leave).
    let declarationsFrom (source: NetworkSource) (spec: NetworkSpec) (data: DataFacts option) (steps: IStep list) =
        steps
        |> List.indexed
        |> List.mapFold
            (fun (s: PlanState) (i, step) ->
                let d = step.Declare { s with Index = i }
                (i, step, d), applyMakes s i d)
            (initialFrom source spec data)
        |> fst

    /// `declarationsFrom` a declared network.
    let declarations spec data steps =
        declarationsFrom DeclaredNetwork spec data steps

    /// Every problem of the pipeline at once: each step's parameters and needs, and an empty
    /// pipeline; the network comes from `source`.
    let problemsFrom
        (source: NetworkSource)
        (spec: NetworkSpec)
        (data: DataFacts option)
        (steps: IStep list)
        : PipelineError list =
        let perStep =
            declarationsFrom source spec data steps
            |> List.collect (fun (i, step, d) ->
                step.Problems @ d.Problems
                |> List.map (fun p ->
                    { Index = Some i
                      Step = step.Name
                      Problem = p }))

        let empty =
            if steps.IsEmpty then
                [ { Index = None
                    Step = ""
                    Problem = "the pipeline has no steps" } ]
            else
                []

        empty @ perStep

    /// `problemsFrom` a declared network.
    let problems spec data steps =
        problemsFrom DeclaredNetwork spec data steps

    let private hash (parts: string list) = Hash.text (String.concat "\n" parts)

    /// The run's root identity: the format, the seed, the network and the data.
    let rootIdentity (seed: int) (spec: NetworkSpec) (data: Data) (dataIdentity: string) =
        // Without an eval_batch_size the data settings hash as they did before the setting existed.
        let settings = (Data.codec.Encode { data with Path = None }).AsObject()

        if data.EvalBatchSize.IsNone then
            settings.Remove "eval_batch_size" |> ignore

        hash
            [ "snn-pipeline/1"
              string seed
              (SpecCodec.spec.Encode spec).ToJsonString()
              settings.ToJsonString()
              dataIdentity ]

    /// The run's root identity with the network's source (an imported model's SHA-256); a
    /// declared network's root is `rootIdentity`'s.
    let rootIdentityFrom (source: NetworkSource) (seed: int) (spec: NetworkSpec) (data: Data) (dataIdentity: string) =
        match NetworkSource.identity source with
        | [] -> rootIdentity seed spec data dataIdentity
        | parts -> hash (rootIdentity seed spec data dataIdentity :: parts)

    /// The steps with their identities; the network comes from `source`.
    let buildFrom
        (root: string)
        (source: NetworkSource)
        (spec: NetworkSpec)
        (data: DataFacts option)
        (steps: IStep list)
        : PlannedStep list =
        let declared = declarationsFrom source spec data steps

        declared
        |> List.mapFold
            (fun (current: Map<Artifact, string>, recorded: string list) (i, step: IStep, d) ->
                let needs =
                    d.Needs
                    |> List.map (fun a -> a, current.TryFind a |> Option.defaultValue "missing")

                let needText = needs |> List.map (fun (a, id) -> $"{a}={id}")
                let json = step.Json.ToJsonString()

                let readText =
                    if d.ReadsRecords then
                        recorded |> List.map (fun id -> $"record={id}")
                    else
                        []

                let identity = hash ([ root; "step"; json ] @ needText @ readText)

                let makes =
                    [ for a, desc in d.Makes ->
                          let own = d.IdentityOf a |> Option.map _.ToJsonString() |> Option.defaultValue json

                          a, desc, hash ([ root; "artifact"; step.Name; own; $"{a}" ] @ needText) ]

                let next = makes |> List.fold (fun m (a, _, id) -> Map.add a id m) current
                let recorded = if d.Records then recorded @ [ identity ] else recorded

                { Index = i
                  Step = step
                  Declaration = d
                  Identity = identity
                  Needs = needs
                  Makes = makes },
                (next, recorded))
            (Map.empty, [])
        |> fst

    /// `buildFrom` a declared network.
    let build root spec data steps =
        buildFrom root DeclaredNetwork spec data steps

    /// The artifacts that steps after `index` need.
    let neededAfter (plan: PlannedStep list) (index: int) =
        plan
        |> List.filter (fun p -> p.Index > index)
        |> List.collect (fun p -> p.Declaration.Needs)
        |> Set.ofList

    /// The manifest of a plan (recorded in the run folder, read by the next run's explanation).
    let manifest (plan: PlannedStep list) : JsonNode =
        JsonArray(
            plan
            |> List.map (fun p ->
                let o = JsonObject()
                o["index"] <- JsonValue.Create p.Index
                o["identity"] <- JsonValue.Create p.Identity
                o["step"] <- p.Step.Json.DeepClone()
                o :> JsonNode)
            |> Array.ofList
        )
