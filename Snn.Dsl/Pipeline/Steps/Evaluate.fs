/// SNN evaluation on the test images: accuracy at each T, with the exact per-layer error anatomy,
/// v(T) histograms, SOPs and E_ANN / E_SNN. Each T is served by the spiking network made for the
/// largest T' <= T (else the smallest); each network is simulated once, at its largest T, and
/// read out at the others. Or, with `Network`, an ANN converted as it is (direct conversion). Or,
/// with `MadeFor`, the networks made for those T scored at every T asked for: a network scored at a
/// T that another network serves is a probe row (in the report, never the final one).
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
        /// None: each T scored by the network that serves it; Some ms: the networks made for ms, each at every T.
        MadeFor: int list option
    }

let defaults =
    { TimeSteps = [ 1; 2; 4; 8; 16; 32 ]
      Network = None
      Anatomy = true
      MadeFor = None }

/// "1, 2, 4".
let private joined (ts: int list) =
    ts |> List.map string |> String.concat ", "

/// The spiking network that serves T: made for the largest T' <= T, else the smallest T'.
let servingT (made: int list) (t: int) =
    match made |> List.filter (fun m -> m <= t) with
    | [] -> List.min made
    | below -> List.max below

let private evaluateSpiking (p: Parameters) (ctx: StepContext) =
    let made = SpikingRuns.timeSteps ctx

    let groups =
        match p.MadeFor with
        | None -> p.TimeSteps |> List.sort |> List.groupBy (servingT made)
        | Some ms -> [ for m in ms -> m, List.sort p.TimeSteps ]

    for served, ts in groups do
        let info = SpikingRuns.info ctx served
        let label = SpikingRuns.label info.Lineage
        let tsText = joined ts

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
            let probe = servingT made r.T <> served

            let note =
                if probe then
                    ", a probe: another network serves this T"
                else
                    ""

            ctx.Log $"T={r.T}: {label} (made for T={served}{note}): %.2f{r.Accuracy}%%"
            ctx.Record(SnnEvaluated { r with Probe = probe })

let private evaluateConverted (p: Parameters) (ctx: StepContext) (ann: Ann) =
    let spec =
        match ctx.Descriptor(Network ann) with
        | AnnDescriptor i -> i.Spec
        | _ -> ctx.Spec

    use snn = Conversion.toSpiking Conversion.defaults (ctx.Ann ann)
    let tsText = joined (List.sort p.TimeSteps)

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
        ctx.Log $"T={r.T}: {ann.Description} converted as it is: %.2f{r.Accuracy}%%"
        ctx.Record(SnnEvaluated r)

let private madeForProblems (p: Parameters) =
    match p.Network, p.MadeFor with
    | _, None -> []
    | Some _, Some _ ->
        [ "made_for names spiking networks, and network an ANN converted as it is: expected one of the two" ]
    | None, Some [] -> [ "made_for = [] is empty: expected at least one T, or null for the network that serves each T" ]
    | None, Some ms ->
        [ if List.distinct ms <> ms then
              $"made_for = [%s{joined ms}] contains duplicates: expected each T once" ]

/// The first T of `made_for` with no spiking network, as a problem.
let private madeForMissing (p: Parameters) (nets: (int * SpikingInfo) list) =
    let have = nets |> List.map fst

    p.MadeFor
    |> Option.defaultValue []
    |> List.filter (fun m -> not (List.contains m have))
    |> List.tryHead
    |> Option.map (fun m ->
        $"made_for asks for the network made for T = %d{m}, which no earlier step makes (they make them for T = %s{joined (List.sort have)})")

let definition: StepDefinition<Parameters> =
    { Name = "evaluate"
      Parameters =
        Codec.record (fun ts n a m ->
            { TimeSteps = ts
              Network = n
              Anatomy = a
              MadeFor = m })
        |> Codec.field "time_steps" _.TimeSteps (Codec.list Codec.int)
        |> Codec.fieldOr "network" _.Network (Codec.option ArtifactCodec.ann) None
        |> Codec.fieldOr "anatomy" _.Anatomy Codec.bool true
        |> Codec.fieldAdded "made_for" _.MadeFor (Codec.option (Codec.list Codec.int)) None
      Label =
        fun p ->
            let ts = joined p.TimeSteps

            match p.Network, p.MadeFor with
            | None, None -> $"evaluate (T = %s{ts})"
            | None, Some ms -> $"evaluate the networks made for T = %s{joined ms} (T = %s{ts})"
            | Some a, _ -> $"evaluate %s{a.Description} converted (T = %s{ts})"
      Problems = fun p -> Declare.timeSteps p.TimeSteps @ madeForProblems p
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
                    match madeForMissing p nets with
                    | Some problem -> Declare.fromProblems [ problem ]
                    | None ->
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
          Anatomy = false
          MadeFor = None }
