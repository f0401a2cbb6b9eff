/// The QCFS baseline (Bu et al., ICLR 2022; BENCHMARKS.md): train once with QC at L levels
/// (threshold init theta0), fold batch norm, convert with v(0) = theta / 2, evaluate at every T
/// (one simulation at the largest T, read out at the others), with the error anatomy.
module Snn.Dsl.Pipeline.Steps.Qcfs

open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training

type Parameters =
    { Levels: int
      InitialThreshold: float
      Epochs: int
      Optimizer: Sgd
      TimeSteps: int list }

/// BENCHMARKS.md's baseline: QC at L = 4, theta0 = 8, T = 1..32, trained as the QCFS code trains:
/// the paper's SGD settings with the cosine stepped once per epoch (`Sgd.qcfs`). The SNN's accuracy
/// at T = 1, 2 varies by tens of points from seed to seed under either schedule, in the official
/// code too (README, issue 16).
let defaults =
    { Levels = 4
      InitialThreshold = 8.0
      Epochs = 10
      Optimizer = Sgd.qcfs
      TimeSteps = [ 1; 2; 4; 8; 16; 32 ] }

let private train (p: Parameters) (ctx: StepContext) =
    let artifact = Network(QcfsAnn p.Levels)

    match ctx.TryReuse artifact with
    | Some(AnnValue net, records) ->
        ctx.Put(artifact, AnnValue net, records)

        let record =
            records
            |> List.pick (function
                | AnnTrained r -> Some r
                | _ -> None)

        net, record
    | _ ->
        let net = AnnTraining.compile ctx 3 (QC(p.Levels, p.InitialThreshold)) ctx.Spec

        let record =
            AnnTraining.train ctx (QcfsAnn p.Levels) "qcfs" net p.Optimizer p.Epochs (ctx.Seed + 3)

        ctx.Put(artifact, AnnValue net, [ AnnTrained record ])
        net, record

let definition: StepDefinition<Parameters> =
    { Name = "qcfs"
      Parameters =
        Codec.record (fun l t e o ts ->
            { Levels = l
              InitialThreshold = t
              Epochs = e
              Optimizer = o
              TimeSteps = ts })
        |> Codec.fieldOr "levels" _.Levels Codec.int 4
        |> Codec.fieldOr "initial_threshold" _.InitialThreshold Codec.float 8.0
        |> Codec.field "epochs" _.Epochs Codec.int
        |> Codec.fieldOr "optimizer" _.Optimizer (Sgd.codecDefaulting Sgd.qcfs) Sgd.qcfs
        |> Codec.fieldOr "time_steps" _.TimeSteps (Codec.list Codec.int) defaults.TimeSteps
      Label = fun p -> $"qcfs (L = %d{p.Levels}, %d{p.Epochs} epochs)"
      Problems =
        fun p ->
            Declare.inRange "levels" 1 1024 p.Levels
            @ Declare.positive "initial_threshold" p.InitialThreshold
            @ AnnTraining.problems p.Epochs p.Optimizer
            @ Declare.timeSteps p.TimeSteps
      Declare =
        fun p s ->
            let activation = QC(p.Levels, p.InitialThreshold)
            let artifact = Network(QcfsAnn p.Levels)

            { Declare.none with
                Makes = [ artifact, AnnTraining.trained s.Spec activation ]
                Records = true
                Problems =
                    AnnTraining.madeOnce artifact s
                    @ (Convert.specProblems ConversionOptions.Default (Fold.foldSpec s.Spec) activation
                       |> List.map (fun m -> $"cannot convert the QCFS ANN: %s{m}")) }
      Run =
        fun p ctx ->
            let net, ann = train p ctx
            net.eval ()
            use folded = Fold.foldBatchNorm net
            use snn = Conversion.toSpiking Conversion.defaults folded
            let ts = p.TimeSteps |> List.sort |> List.map string |> String.concat ", "

            let rows =
                SpikingRuns.evaluate
                    ctx
                    snn
                    p.TimeSteps
                    (QcfsAnn p.Levels)
                    folded.Spec
                    None
                    []
                    true
                    false
                    $"QCFS T={ts}"

            for r in rows do
                ctx.Log $"QCFS SNN T={r.T}: %.2f{r.Accuracy}%%"

            ctx.Record(
                QcfsEvaluated
                    { Levels = p.Levels
                      Ann = ann
                      Points = Array.ofList rows }
            ) }

/// The QCFS baseline with BENCHMARKS.md's settings, trained for this many epochs.
let step epochs =
    Step.create definition { defaults with Epochs = epochs }
