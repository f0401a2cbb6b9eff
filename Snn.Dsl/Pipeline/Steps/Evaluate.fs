/// SNN evaluation on the test images: accuracy at each T, with the exact per-layer error anatomy,
/// v(T) histograms, SOPs and E_ANN / E_SNN. Each T is served by the spiking network made for the
/// largest T' <= T (else the smallest); each network is simulated once, at its largest T, and
/// read out at the others. Or, with `Network`, an ANN converted as it is (direct conversion).
module Snn.Dsl.Pipeline.Steps.Evaluate

open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        TimeSteps: int list
        /// None: the pipeline's spiking networks; Some ann: that ANN converted as it is.
        Network: Ann option
        /// Record the per-layer error anatomy and v(T) histograms.
        Anatomy: bool
    }

let defaults =
    { TimeSteps = [ 1; 2; 4; 8; 16; 32 ]
      Network = None
      Anatomy = true }

/// The spiking network that serves T: made for the largest T' <= T, else the smallest T'.
let servingT (made: int list) (t: int) =
    match made |> List.filter (fun m -> m <= t) with
    | [] -> List.min made
    | below -> List.max below

let private evaluateSpiking (p: Parameters) (ctx: StepContext) =
    let made = SpikingRuns.timeSteps ctx

    for served, ts in p.TimeSteps |> List.sort |> List.groupBy (servingT made) do
        let info = SpikingRuns.info ctx served
        let label = SpikingRuns.label info.Lineage
        let tsText = ts |> List.map string |> String.concat ", "

        let rows =
            SpikingRuns.evaluate
                ctx
                (ctx.Spiking served)
                ts
                info.Source
                info.SourceInfo.Spec
                (Some served)
                info.Lineage
                p.Anatomy
                false
                $"T={tsText}: {label} (made for T={served})"

        for r in rows do
            ctx.Log $"T={r.T}: {label} (made for T={served}): {r.Accuracy:F2}%%"
            ctx.Record(SnnEvaluated r)

let private evaluateConverted (p: Parameters) (ctx: StepContext) (ann: Ann) =
    let spec =
        match ctx.Descriptor(Network ann) with
        | AnnDescriptor i -> i.Spec
        | _ -> ctx.Spec

    use snn = Conversion.toSpiking Conversion.defaults (ctx.Ann ann)
    let tsText = p.TimeSteps |> List.sort |> List.map string |> String.concat ", "

    let rows =
        SpikingRuns.evaluate
            ctx
            snn
            p.TimeSteps
            ann
            spec
            None
            []
            p.Anatomy
            false
            $"{ann.Description} converted, T={tsText}"

    for r in rows do
        ctx.Log $"T={r.T}: {ann.Description} converted as it is: {r.Accuracy:F2}%%"
        ctx.Record(SnnEvaluated r)

let definition: StepDefinition<Parameters> =
    { Name = "evaluate"
      Parameters =
        Codec.record (fun ts n a ->
            { TimeSteps = ts
              Network = n
              Anatomy = a })
        |> Codec.field "time_steps" _.TimeSteps (Codec.list Codec.int)
        |> Codec.fieldOr "network" _.Network (Codec.option ArtifactCodec.ann) None
        |> Codec.fieldOr "anatomy" _.Anatomy Codec.bool true
      Label =
        fun p ->
            let ts = p.TimeSteps |> List.map string |> String.concat ", "

            match p.Network with
            | None -> $"evaluate (T = %s{ts})"
            | Some a -> $"evaluate %s{a.Description} converted (T = %s{ts})"
      Problems = fun p -> Declare.timeSteps p.TimeSteps
      Declare =
        fun p s ->
            match p.Network with
            | Some ann ->
                match Declare.ann ann s with
                | Error e -> Declare.fromProblems [ e ]
                | Ok info ->
                    { Declare.none with
                        Needs = [ Network ann ]
                        Records = true
                        Problems = Conversion.problemsOf Conversion.defaults ann info }
            | None ->
                match Declare.spikingNetworks s with
                | [] ->
                    Declare.fromProblems
                        [ "needs a spiking network: add convert before evaluate (or set \"network\" to evaluate an ANN converted as it is)" ]
                | nets ->
                    { Declare.none with
                        Needs = nets |> List.map (fst >> Spiking)
                        Records = true }
      Run =
        fun p ctx ->
            match p.Network with
            | Some ann -> evaluateConverted p ctx ann
            | None -> evaluateSpiking p ctx }

/// Evaluates the pipeline's spiking networks at these T.
let step (timeSteps: int list) =
    Step.create definition { defaults with TimeSteps = timeSteps }

/// Evaluates the folded clip ANN converted as it is (direct conversion) at these T, without the
/// error anatomy.
let direct (timeSteps: int list) =
    Step.create
        definition
        { TimeSteps = timeSteps
          Network = Some ClipAnn
          Anatomy = false }
