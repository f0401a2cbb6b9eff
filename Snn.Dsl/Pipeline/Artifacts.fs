/// What pipeline steps pass to each other: typed artifacts (ANNs and spiking networks) with
/// descriptors that validation reasons about before any tensor exists.
namespace Snn.Dsl.Pipeline

open Snn.Dsl
open Snn.Dsl.Json

/// An ANN a pipeline can hold, in PAPER.md's words.
type Ann =
    /// The ReLU ANN: the baseline whose accuracy the SNNs are compared with (trained or imported).
    | ReluAnn
    /// Phase I step 1: the ANN with learnable clip activations (folded in place by foldBatchNorm).
    | ClipAnn
    /// Phase I step 3: the QC ANN fine-tuned at L levels (for T = L).
    | QcAnn of levels: int
    /// The QCFS baseline's QC ANN at L levels.
    | QcfsAnn of levels: int

    /// How reports name it.
    member this.Description =
        match this with
        | ReluAnn -> "the ReLU ANN"
        | ClipAnn -> "the clip ANN"
        | QcAnn l -> $"the QC ANN at L = %d{l}"
        | QcfsAnn l -> $"the QCFS ANN at L = %d{l}"

/// A typed artifact: the key under which a step stores what it makes.
type Artifact =
    /// An ANN.
    | Network of Ann
    /// The spiking network for T time steps (converted from the QC ANN at L = T; Phase II
    /// calibrates it for that T).
    | Spiking of timeSteps: int

    member this.Description =
        match this with
        | Network a -> a.Description
        | Spiking t -> $"the spiking network for T = %d{t}"

/// A Phase II layer operation, as recorded in a spiking network's lineage.
type LayerOperation =
    /// Phase II a / c: potential calibration.
    | PotentialCalibration
    /// Phase II b: layer-wise weight calibration.
    | WeightCalibration
    /// A layer step defined outside the library (its name).
    | CustomLayerOperation of name: string

/// What was done to a spiking network since conversion, in order.
type LineageEntry =
    /// A layer-wise Phase II pass with these operations per layer (PAPER.md: a, b, c).
    | PhaseTwoPass of LayerOperation list
    /// Any other step that changed the spiking network (its label).
    | StepApplied of label: string
    /// A step that trained the source ANN beyond the step that made it, before conversion (its
    /// label, e.g. distillQC's): carried over from the ANN's `AnnInfo.Tuning`.
    | SourceTuned of label: string

/// What validation knows of an ANN.
type AnnInfo =
    {
        /// The spec as it is now (without batch norm once folded).
        Spec: NetworkSpec
        Activation: Activation
        /// The spec still holds batch norm: it must be folded before conversion.
        HasBatchNorm: bool
        /// Labels of the training the ANN had beyond the step that defines it (e.g. distillQC on a
        /// QC ANN), in order; empty for most. Conversion carries them into the spiking network's
        /// lineage (`SourceTuned`), so reports tell its rows apart.
        Tuning: string list
    }

/// What validation knows of a spiking network.
type SpikingInfo =
    {
        /// The ANN it was converted from.
        Source: Ann
        /// The source ANN's spec and activation (the structure the network is rebuilt from).
        SourceInfo: AnnInfo
        /// T it is made (and calibrated) for.
        TimeSteps: int
        Conversion: ConversionOptions
        Lineage: LineageEntry list
    }

/// The descriptor of an artifact.
type Descriptor =
    | AnnDescriptor of AnnInfo
    | SpikingDescriptor of SpikingInfo

/// JSON forms (stored in step records, so a resumed run knows what it reloads).
module ArtifactCodec =

    let ann: Codec<Ann> =
        Codec.mapResult
            (fun (s: string) ->
                match s.Split ':' with
                | [| "relu" |] -> Ok ReluAnn
                | [| "clip" |] -> Ok ClipAnn
                | [| "qc"; l |] when fst (System.Int32.TryParse l) -> Ok(QcAnn(int l))
                | [| "qcfs"; l |] when fst (System.Int32.TryParse l) -> Ok(QcfsAnn(int l))
                | _ -> Error $"expected \"relu\", \"clip\", \"qc:L\" or \"qcfs:L\", got \"%s{s}\"")
            (function
            | ReluAnn -> "relu"
            | ClipAnn -> "clip"
            | QcAnn l -> $"qc:%d{l}"
            | QcfsAnn l -> $"qcfs:%d{l}")
            Codec.string

    let artifact: Codec<Artifact> =
        Codec.mapResult
            (fun (s: string) ->
                match s.Split ':' with
                | [| "spiking"; t |] when fst (System.Int32.TryParse t) -> Ok(Spiking(int t))
                | _ ->
                    ann.Decode "artifact" (System.Text.Json.Nodes.JsonValue.Create s)
                    |> Result.map Network
                    |> Result.mapError (fun e -> e.Head.Problem))
            (function
            | Spiking t -> $"spiking:%d{t}"
            | Network a -> (ann.Encode a).GetValue<string>())
            Codec.string

    let activation: Codec<Activation> =
        Tagged.codec
            "kind"
            "an activation"
            [ Tagged.unit "relu" Relu
              Tagged.case "clip" (Codec.record id |> Codec.field "initial_threshold" id Codec.float) Clip (function
                  | Clip t -> Some t
                  | _ -> None)
              Tagged.case
                  "qc"
                  (Codec.record (fun l t -> l, t)
                   |> Codec.field "levels" fst Codec.int
                   |> Codec.field "initial_threshold" snd Codec.float)
                  QC
                  (function
                   | QC(l, t) -> Some(l, t)
                   | _ -> None)
              Tagged.case
                  "noisy_qc"
                  (Codec.record (fun l t p -> l, t, p)
                   |> Codec.field "levels" (fun (l, _, _) -> l) Codec.int
                   |> Codec.field "initial_threshold" (fun (_, t, _) -> t) Codec.float
                   |> Codec.field "p" (fun (_, _, p) -> p) Codec.float)
                  NoisyQC
                  (function
                   | NoisyQC(l, t, p) -> Some(l, t, p)
                   | _ -> None) ]

    let annInfo: Codec<AnnInfo> =
        Codec.record (fun s a b t ->
            { Spec = s
              Activation = a
              HasBatchNorm = b
              Tuning = t })
        |> Codec.field "spec" _.Spec SpecCodec.spec
        |> Codec.field "activation" _.Activation activation
        |> Codec.field "has_batch_norm" _.HasBatchNorm Codec.bool
        |> Codec.fieldOr "tuning" _.Tuning (Codec.list Codec.string) []
        |> Codec.build

    let conversion: Codec<ConversionOptions> =
        Codec.record (fun r s ->
            { ReplaceMaxPool = r
              InitialPotentialShare = s })
        |> Codec.field "replace_max_pool" _.ReplaceMaxPool Codec.bool
        |> Codec.field "initial_potential_share" _.InitialPotentialShare Codec.float
        |> Codec.build

    let layerOperation =
        Codec.mapResult
            (fun (s: string) ->
                match s with
                | "potential" -> Ok PotentialCalibration
                | "weights" -> Ok WeightCalibration
                | other -> Ok(CustomLayerOperation other))
            (function
            | PotentialCalibration -> "potential"
            | WeightCalibration -> "weights"
            | CustomLayerOperation n -> n)
            Codec.string

    let lineageEntry: Codec<LineageEntry> =
        Tagged.codec
            "kind"
            "a lineage entry"
            [ Tagged.case
                  "phase_two"
                  (Codec.record id |> Codec.field "operations" id (Codec.list layerOperation))
                  PhaseTwoPass
                  (function
                   | PhaseTwoPass ops -> Some ops
                   | _ -> None)
              Tagged.case "step" (Codec.record id |> Codec.field "label" id Codec.string) StepApplied (function
                  | StepApplied l -> Some l
                  | _ -> None)
              Tagged.case "source_step" (Codec.record id |> Codec.field "label" id Codec.string) SourceTuned (function
                  | SourceTuned l -> Some l
                  | _ -> None) ]

    let layerOperations = Codec.list layerOperation
    let lineage = Codec.list lineageEntry

    let spikingInfo: Codec<SpikingInfo> =
        Codec.record (fun s si t c l ->
            { Source = s
              SourceInfo = si
              TimeSteps = t
              Conversion = c
              Lineage = l })
        |> Codec.field "source" _.Source ann
        |> Codec.field "source_info" _.SourceInfo annInfo
        |> Codec.field "time_steps" _.TimeSteps Codec.int
        |> Codec.field "conversion" _.Conversion conversion
        |> Codec.field "lineage" _.Lineage lineage
        |> Codec.build

    let descriptor: Codec<Descriptor> =
        Tagged.codec
            "kind"
            "a descriptor"
            [ Tagged.case "ann" (Codec.record id |> Codec.field "info" id annInfo) AnnDescriptor (function
                  | AnnDescriptor a -> Some a
                  | _ -> None)
              Tagged.case "spiking" (Codec.record id |> Codec.field "info" id spikingInfo) SpikingDescriptor (function
                  | SpikingDescriptor s -> Some s
                  | _ -> None) ]
