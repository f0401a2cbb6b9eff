/// A pipeline step: typed parameters with their defaults, validation and JSON form; a
/// declaration of what it needs and makes (from which the pipeline's validation is derived,
/// before any tensor exists); and a run function from the artifacts so far to new ones.
/// Library steps and steps defined in a script or notebook are built the same way
/// (`Step.define`), so a user's step plugs into a pipeline without any change to Snn.Dsl.
namespace Snn.Dsl.Pipeline

open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Simulation
open Snn.Dsl
open Snn.Dsl.Json

/// A value held under an artifact key.
type ArtifactValue =
    | AnnValue of CompiledNetwork
    | SpikingValue of SpikingNetwork

/// The pipeline as validation sees it at one step: what earlier steps made.
type PlanState =
    {
        /// 0-based index of the step being declared.
        Index: int
        /// The experiment's network spec (as declared; steps that fold track the folded spec in descriptors).
        Spec: NetworkSpec
        Artifacts: Map<Artifact, Descriptor>
        /// For each artifact, the index of the step that last made it.
        MadeBy: Map<Artifact, int>
        /// Indices of earlier steps that record figures (evaluations, trained ANNs).
        Recorded: int list
        /// The dataset's facts, once its files have been read (None when validating without data).
        Data: DataFacts option
        /// Where the network comes from (an ONNX import brings its weights).
        Source: NetworkSource
    }

/// What a step needs and makes, or why it cannot run here.
type Declaration =
    {
        Needs: Artifact list
        Makes: (Artifact * Descriptor) list
        /// Per made artifact, the parameters its identity depends on when not all of the step's
        /// (a step that makes one artifact per T lets each depend on its own T only).
        IdentityOf: Artifact -> JsonNode option
        /// Whether the step records figures.
        Records: bool
        /// Whether the step reads the records of the earlier steps that record figures (the
        /// report): its identity then includes theirs, so it runs again when any of them does.
        ReadsRecords: bool
        /// Everything that is missing or wrong, each a sentence naming what was expected.
        Problems: string list
    }

/// What a run is, for the records and the report.
type RunInfo =
    {
        Name: string
        Profile: string
        Seed: int
        Spec: NetworkSpec
        /// The experiment as JSON (recorded in results.json).
        Experiment: JsonNode
        /// Where the network comes from (an ONNX import brings its weights).
        Source: NetworkSource
    }

/// The run as a step sees it.
[<AbstractClass>]
type StepContext() =
    /// 0-based index of the step in the pipeline.
    abstract Index: int
    /// The experiment's seed.
    abstract Seed: int
    /// The experiment's network spec.
    abstract Spec: NetworkSpec
    abstract Data: RunData
    abstract Progress: IProgressSink
    /// The artifacts present before this step, in pipeline order of their making.
    abstract Artifacts: Artifact list
    /// The descriptor of an artifact the step declared it needs (or made itself).
    abstract Descriptor: Artifact -> Descriptor
    /// An ANN the step declared it needs; the run owns it (do not dispose).
    abstract Ann: Ann -> CompiledNetwork
    /// The spiking network for T, which the step declared it needs; the run owns it.
    abstract Spiking: int -> SpikingNetwork
    /// Stores what the step makes (saved in the run folder at once, with its records); the run
    /// takes ownership of the value.
    abstract Put: Artifact * ArtifactValue * Record list -> unit
    /// The value and records of an artifact this step already made in an earlier, interrupted or
    /// otherwise different run with the same identity (a finished part of the step).
    abstract TryReuse: Artifact -> (ArtifactValue * Record list) option
    /// Adds a record to the step's result.
    abstract Record: Record -> unit
    /// Every record of the earlier steps, in pipeline order.
    abstract Records: Record list
    /// The file for resumable work on an artifact the step makes (per-epoch training checkpoints).
    abstract CheckpointPath: Artifact -> string
    /// The run folder.
    abstract Folder: string
    abstract Info: RunInfo
    /// Seconds recorded by the earlier steps (their runs before a resume included).
    abstract SecondsSoFar: float

    /// Adds time an earlier, interrupted run spent on this step (so wall times add up over resumes).
    abstract Carry: seconds: float -> unit

    /// A line in the run log.
    member this.Log(message: string) = this.Progress.Log message

    /// The device every network and batch of the run lives on (the experiment's "device").
    member this.Device: torch.Device = this.Data.Device

/// A step of a pipeline.
type IStep =
    /// The step's name, as JSON and reports write it.
    abstract Name: string
    /// A short description with the main parameters.
    abstract Label: string
    /// The parameters as a JSON object with "step": Name (every field, defaults written out).
    abstract Json: JsonObject
    /// Problems with the parameters alone.
    abstract Problems: string list
    abstract Declare: PlanState -> Declaration
    abstract Run: StepContext -> unit

/// The JSON of a named step or layer step: {"step": name, ...fields}.
module StepJson =

    let ofFields (name: string) (fields: (string * JsonNode) list) =
        let o = JsonObject()
        o["step"] <- JsonValue.Create name

        for k, v in fields do
            o[k] <- v

        o

    /// Two named objects are the same step when their names and JSON are.
    let same (name: string, json: JsonObject) (otherName: string, otherJson: JsonObject) =
        name = otherName && JsonNode.DeepEquals(json, otherJson)

/// How a kind of step is made: its name, parameter codec, validation, declaration and run.
type StepDefinition<'P> =
    { Name: string
      Parameters: RecordCodec<'P, 'P>
      Label: 'P -> string
      Problems: 'P -> string list
      Declare: 'P -> PlanState -> Declaration
      Run: 'P -> StepContext -> unit }

/// A step of kind `definition` with its parameters. Two steps are equal when their JSON is.
type Step<'P>(definition: StepDefinition<'P>, parameters: 'P) =
    let json () =
        StepJson.ofFields definition.Name (Codec.encodeFields definition.Parameters parameters)

    member _.Definition = definition
    member _.Parameters = parameters

    override _.Equals(other) =
        match other with
        | :? IStep as s -> StepJson.same (s.Name, s.Json) (definition.Name, json ())
        | _ -> false

    override _.GetHashCode() = (json ()).ToJsonString().GetHashCode()
    override _.ToString() = definition.Label parameters

    interface IStep with
        member _.Name = definition.Name
        member _.Label = definition.Label parameters
        member _.Json = json ()
        member _.Problems = definition.Problems parameters
        member _.Declare state = definition.Declare parameters state
        member _.Run context = definition.Run parameters context

module Step =

    /// A step of the given kind.
    let create (definition: StepDefinition<'P>) (parameters: 'P) : IStep = Step(definition, parameters)

    /// Decodes a step object {"step": name, ...} of the given kind.
    let decoder (definition: StepDefinition<'P>) =
        fun path (o: JsonObject) ->
            Codec.decodeFields path ("step" :: definition.Parameters.Keys) definition.Parameters o
            |> Result.map (create definition)

/// Declaration helpers: what a step needs, stated once, with the standard messages.
module Declare =

    /// Nothing needed, nothing made.
    let none =
        { Needs = []
          Makes = []
          IdentityOf = fun _ -> None
          Records = false
          ReadsRecords = false
          Problems = [] }

    /// The descriptor of an ANN made by an earlier step, or the problem.
    let ann (a: Ann) (s: PlanState) : Result<AnnInfo, string> =
        match s.Artifacts.TryFind(Network a) with
        | Some(AnnDescriptor i) -> Ok i
        | _ -> Error $"needs %s{a.Description}, which no earlier step makes"

    /// The spiking networks made by earlier steps, by T.
    let spikingNetworks (s: PlanState) =
        [ for KeyValue(k, d) in s.Artifacts do
              match k, d with
              | Spiking t, SpikingDescriptor i -> yield t, i
              | _ -> () ]

    /// The QC ANNs made by earlier steps, by L.
    let qcAnns (s: PlanState) =
        [ for KeyValue(k, d) in s.Artifacts do
              match k, d with
              | Network(QcAnn l), AnnDescriptor i -> yield l, i
              | _ -> () ]

    /// The problem of an ANN that still holds batch norm where a folded one is needed.
    let folded (a: Ann) (i: AnnInfo) =
        [ if i.HasBatchNorm then
              $"needs %s{a.Description} with batch norm folded: add foldBatchNorm before this step" ]

    /// A declaration from a list of results: the successes' needs and the failures' problems.
    let fromProblems (problems: string list) = { none with Problems = problems }

    /// Number-range checks used by many steps.
    let atLeast (what: string) (minimum: int) (v: int) =
        [ if v < minimum then
              $"%s{what} = %d{v} is out of range: expected >= %d{minimum}" ]

    let inRange (what: string) (lo: int) (hi: int) (v: int) =
        [ if v < lo || v > hi then
              $"%s{what} = %d{v} is out of range: expected [%d{lo}, %d{hi}]" ]

    let positive (what: string) (v: float) =
        [ if not (v > 0.0) || System.Double.IsInfinity v then
              $"%s{what} = %g{v} is out of range: expected a finite value > 0" ]

    let probability (what: string) (v: float) =
        [ if not (v >= 0.0 && v < 1.0) then
              $"%s{what} = %g{v} is out of range: expected [0, 1)" ]

    /// A list of time steps: non-empty, each in [1, 1024], no duplicates.
    let timeSteps (ts: int list) =
        [ if ts.IsEmpty then
              "time steps: the list is empty, expected at least one T >= 1"
          for t in ts do
              if t < 1 || t > 1024 then
                  $"time step T = %d{t} is out of range: expected [1, 1024]"
          if List.distinct ts <> ts then
              $"time steps %A{ts} contain duplicates" ]
