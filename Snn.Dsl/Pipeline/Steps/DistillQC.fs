/// Phase I with knowledge distillation (issue 16, beyond PAPER.md): each QC ANN trained on with
/// the noisy-QC forward and learnable thresholds of fineTuneQC, on the loss
/// (1 - alpha) CE(student, y) + alpha tau^2 KL(softmax(teacher / tau) || softmax(student / tau))
/// (Hinton et al. 2015; Snn.Core's Distillation), the teacher (the ReLU or the clip ANN) in eval
/// mode without gradients. It replaces the QC ANNs, so a following convert uses them. A QC ANN
/// that no earlier step made is started as fineTuneQC starts it, from the folded clip ANN.
module Snn.Dsl.Pipeline.Steps.DistillQC

open System.Text.Json.Nodes
open Snn.Core.Training
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training

type Parameters =
    {
        /// The ANN whose outputs the QC ANNs learn from: ReluAnn or ClipAnn.
        Teacher: Ann
        /// The levels L of the QC ANNs to distil (T = L).
        TimeSteps: int list
        Epochs: int
        Optimizer: Sgd
        /// tau, > 0: both distributions are softmax(logits / tau).
        Temperature: float
        /// Weight of the teacher's term, in [0, 1]: 0 is fineTuneQC's cross-entropy.
        Alpha: float
        /// p: probability that an activation stays unrounded in training, in [0, 1).
        NoiseProbability: float
        /// Only where this step starts a QC ANN from the clip ANN (no earlier step made it): fit
        /// the starting thresholds as fineTuneQC does (None: fit, fineTuneQC's default).
        FitThresholds: bool option
    }

/// fineTuneQC's optimizer and noise; tau = 4 and weight 0.9 on the teacher's term, the KD
/// setting of Tian et al.'s distillation benchmark (CRD, ICLR 2020).
let defaults =
    { Teacher = ReluAnn
      TimeSteps = [ 1; 2; 4 ]
      Epochs = 1
      Optimizer = FineTuneQC.defaults.Optimizer
      Temperature = 4.0
      Alpha = 0.9
      NoiseProbability = FineTuneQC.defaults.NoiseProbability
      FitThresholds = None }

/// The teachers a QC ANN can learn from, as JSON names them.
let private teachers = [ "relu", ReluAnn; "clip", ClipAnn ]

let private teacherName (a: Ann) =
    teachers |> List.find (snd >> (=) a) |> fst

let private fields =
    Codec.record (fun teacher ts e o tau a p f ->
        { Teacher = teacher
          TimeSteps = ts
          Epochs = e
          Optimizer = o
          Temperature = tau
          Alpha = a
          NoiseProbability = p
          FitThresholds = f })
    |> Codec.field "teacher" _.Teacher (Codec.enum teachers)
    |> Codec.field "time_steps" _.TimeSteps (Codec.list Codec.int)
    |> Codec.field "epochs" _.Epochs Codec.int
    |> Codec.fieldOr "optimizer" _.Optimizer Sgd.codec defaults.Optimizer
    |> Codec.fieldOr "temperature" _.Temperature Codec.float defaults.Temperature
    |> Codec.fieldOr "alpha" _.Alpha Codec.float defaults.Alpha
    |> Codec.fieldOr "noise_probability" _.NoiseProbability Codec.float defaults.NoiseProbability
    |> Codec.fieldOr "fit_thresholds" _.FitThresholds (Codec.option Codec.bool) None

/// How the distillation is named in the lineage of the spiking networks made from its QC ANNs.
let tuning (p: Parameters) =
    $"distillQC (%s{teacherName p.Teacher} teacher, tau %g{p.Temperature}, alpha %g{p.Alpha}, %d{p.Epochs} epochs)"

/// What the distilled QC ANN at L depends on: every parameter but the list of L, plus L itself.
let private identityOf (p: Parameters) (levels: int) =
    let o = JsonObject()

    for k, v in Codec.encodeFields fields { p with TimeSteps = [] } do
        if k <> "time_steps" then
            o[k] <- v

    o["levels"] <- JsonValue.Create levels
    o :> JsonNode

/// The custom record written just before the QC ANN at L's AnnTrained record (the report labels
/// that QC ANN's accuracy with it, Build.qcAnnStages): its L, the label, and where it started from.
let private record (p: Parameters) (levels: int) (continued: bool) =
    let o = JsonObject()
    o["levels"] <- JsonValue.Create levels
    o["label"] <- JsonValue.Create(tuning p)
    o["teacher"] <- JsonValue.Create(teacherName p.Teacher)
    o["temperature"] <- JsonValue.Create p.Temperature
    o["alpha"] <- JsonValue.Create p.Alpha
    o["started_from"] <- JsonValue.Create(if continued then "qc_ann" else "clip_ann")
    CustomRecord(Reporting.Build.DistilledRecord, o)

/// The QC ANN at L with distillQC's noise: the earlier QC ANN's weights and thresholds, or a
/// fresh start from the clip ANN. The caller owns it.
let private student (p: Parameters) (ctx: StepContext) (levels: int) (continued: bool) =
    if continued then
        let qc = ctx.Ann(QcAnn levels)

        let theta0 =
            match qc.Activation with
            | NoisyQC(_, t, _)
            | QC(_, t) -> t
            | _ -> TrainClip.defaults.InitialThreshold

        let copy = Compile.withActivation (NoisyQC(levels, theta0, p.NoiseProbability)) qc
        copy.eval ()
        let before = Evaluation.annAccuracy copy ctx.Data.HeldOutBatches
        ctx.Log $"distill-L{levels}: QC ANN before distillation, held-out accuracy %.2f{before}%%"
        copy
    else
        FineTuneQC.start ctx (defaultArg p.FitThresholds true) p.NoiseProbability levels

let private distil (p: Parameters) (ctx: StepContext) (levels: int) =
    let artifact = Network(QcAnn levels)

    match ctx.TryReuse artifact with
    | Some(value, records) -> ctx.Put(artifact, value, records)
    | None ->
        let continued = List.contains artifact ctx.Artifacts
        let net = student p ctx levels continued
        let teacher = ctx.Ann p.Teacher
        teacher.eval ()
        let objective = Distillation.Objective(teacher, p.Temperature, p.Alpha)

        let trained =
            AnnTraining.trainWith
                ctx
                (QcAnn levels)
                $"distill-L{levels}"
                net
                p.Optimizer
                p.Epochs
                (ctx.Seed + 2000 + levels)
                (Some objective)

        ctx.Log $"Phase I QC ANN (L = {levels}) after {tuning p}: test accuracy %.2f{trained.TestAccuracy}%%"
        ctx.Put(artifact, AnnValue net, [ record p levels continued; AnnTrained trained ])

/// The declaration for one L: continue the QC ANN an earlier step made, or start it from the
/// folded clip ANN.
let private declareLevel (p: Parameters) (s: PlanState) (levels: int) =
    let qc = QcAnn levels

    let made (from: AnnInfo) =
        Network qc,
        AnnDescriptor
            { from with
                Tuning = from.Tuning @ [ tuning p ] }

    match s.Artifacts.TryFind(Network qc) with
    | Some(AnnDescriptor info) ->
        let theta0 =
            match info.Activation with
            | NoisyQC(_, t, _)
            | QC(_, t) -> Ok t
            | other -> Error $"%s{qc.Description} has a %A{other} activation: expected a QC one"

        match theta0 with
        | Error e -> [ Network qc ], [], [ e ]
        | Ok t ->
            [ Network qc ],
            [ made
                  { info with
                      Activation = NoisyQC(levels, t, p.NoiseProbability) } ],
            [ if p.FitThresholds.IsSome then
                  $"fit_thresholds applies only where distillQC starts a QC ANN from the clip ANN; step %d{s.MadeBy[Network qc]} made %s{qc.Description}: leave fit_thresholds out" ]
    | _ ->
        match Declare.ann ClipAnn s with
        | Error _ ->
            [],
            [],
            [ $"needs %s{qc.Description} (add fineTuneQC before distillQC) or the folded clip ANN to start it from, which no earlier step makes" ]
        | Ok clip ->
            [ Network ClipAnn ],
            [ made (FineTuneQC.qcInfo clip levels p.NoiseProbability) ],
            Declare.folded ClipAnn clip

let definition: StepDefinition<Parameters> =
    { Name = "distillQC"
      Parameters = fields
      Label =
        fun p ->
            let ls = p.TimeSteps |> List.map string |> String.concat ", "
            $"distillQC (L = %s{ls}, %s{teacherName p.Teacher} teacher, tau %g{p.Temperature}, alpha %g{p.Alpha}, %d{p.Epochs} epochs)"
      Problems =
        fun p ->
            Declare.timeSteps p.TimeSteps
            @ AnnTraining.problems p.Epochs p.Optimizer
            @ Declare.positive "temperature" p.Temperature
            @ [ if not (p.Alpha >= 0.0 && p.Alpha <= 1.0) then
                    $"alpha = %g{p.Alpha} is out of range: expected [0, 1] (the weight of the teacher's term)" ]
            @ Declare.probability "noise_probability" p.NoiseProbability
      Declare =
        fun p s ->
            let teacher =
                match Declare.ann p.Teacher s with
                | Ok _ -> []
                | Error _ ->
                    [ $"teacher = \"%s{teacherName p.Teacher}\" needs %s{p.Teacher.Description}, which no earlier step makes" ]

            let levels = p.TimeSteps |> List.distinct |> List.map (declareLevel p s)
            let needs = levels |> List.collect (fun (n, _, _) -> n) |> List.distinct

            { Declare.none with
                Needs = (if teacher.IsEmpty then [ Network p.Teacher ] else []) @ needs
                Makes = levels |> List.collect (fun (_, m, _) -> m)
                Records = true
                IdentityOf =
                    function
                    | Network(QcAnn l) -> Some(identityOf p l)
                    | _ -> None
                Problems = teacher @ (levels |> List.collect (fun (_, _, e) -> e)) }
      Run =
        fun p ctx ->
            for l in List.sort p.TimeSteps do
                distil p ctx l }

/// Distils the QC ANNs at these L from the ReLU ANN for this many epochs (the defaults otherwise).
let step (timeSteps: int list) epochs =
    Step.create
        definition
        { defaults with
            TimeSteps = timeSteps
            Epochs = epochs }
