/// Fine-tuning every spiking network end to end at its T (surrogate BPTT through the whole
/// network, Snn.Core's NetworkFineTune) on the training images, keeping the weights with the best
/// held-out accuracy: a technique beyond PAPER.md (issue 16), run after Phase II's layer-wise
/// calibration; its rows in the report show what it buys.
module Snn.Dsl.Pipeline.Steps.FineTuneSnn

open Snn.Core.Calibration
open Snn.Core.Training
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Pipeline.Steps.FineTuneSnnRecords

/// Knowledge distillation from an ANN during the fine-tune (Snn.Core's Distillation): the loss
/// (1 - alpha) CE + alpha tau^2 KL(softmax(teacher / tau) || softmax(snn / tau)) on each batch.
type Teaching =
    {
        /// The ANN whose outputs the spiking network learns from (in eval mode, never changed).
        Teacher: Ann
        /// tau > 0.
        Temperature: float
        /// Weight of the teacher's term, in [0, 1].
        Alpha: float
    }

/// Where the networks of the step start: a copy of the spiking network at another T, first
/// fine-tuned there (the T = 2 network grown from the T = 1 network, say).
type WarmStart =
    {
        /// The T of the network copied and fine-tuned first (its own network is left unchanged).
        TimeSteps: int
        /// Epochs at that T before the step's `Epochs` at each network's own T.
        Epochs: int
    }

type Parameters =
    {
        /// Passes over the training images.
        Epochs: int
        /// Adam's learning rate (the peak of a cosine schedule).
        LearningRate: float
        /// Constant, or cosine from LearningRate to 0 over all the batches of all epochs.
        Schedule: Schedule
        BatchSize: int
        /// Initial alpha of each layer's surrogate spike.
        InitialAlpha: float
        /// None: cross-entropy on the labels alone.
        Distill: Teaching option
        /// The loss of every step's output averaged over T (TET, Deng et al. 2022), not of the readout.
        PerStepLoss: bool
        /// Decay in [0, 1) of a moving average of the weights, scored and kept instead of the last weights; None: none.
        AverageDecay: float option
        /// The T of the spiking networks to fine-tune; None: every spiking network.
        TimeSteps: int list option
        /// Train every layer's threshold too (DIET-SNN, Rathi and Roy 2021); false: thresholds fixed.
        LearnThresholds: bool
        /// None: each network starts from its own current version.
        WarmStart: WarmStart option
        /// Surrogate BPTT (the default), or through each layer's firing rate (DSR, Meng et al. 2022).
        Gradient: FineTuneGradient
        /// Stop the soft reset's gradient in BPTT (true, the default), or let it through.
        DetachReset: bool
        /// eps in [0, 1) of label smoothing (Szegedy et al. 2016) in the cross-entropy; 0: none.
        LabelSmoothing: float
        /// Batch-normalise each synapse's current while training, folded back afterwards (tdBN, Zheng et al. 2021).
        BatchNorm: bool
    }

let defaults =
    { Epochs = 1
      LearningRate = 1e-4
      Schedule = Constant
      BatchSize = 128
      InitialAlpha = 2.5
      Distill = None
      PerStepLoss = false
      AverageDecay = None
      TimeSteps = None
      LearnThresholds = false
      WarmStart = None
      Gradient = FineTuneGradient.Surrogate
      DetachReset = true
      LabelSmoothing = 0.0
      BatchNorm = false }

let private teaching =
    Codec.record (fun teacher tau alpha ->
        { Teacher = teacher
          Temperature = tau
          Alpha = alpha })
    |> Codec.field "teacher" _.Teacher ArtifactCodec.ann
    |> Codec.fieldOr "temperature" _.Temperature Codec.float 4.0
    |> Codec.fieldOr "alpha" _.Alpha Codec.float 0.5
    |> Codec.build

let private warmStart =
    Codec.record (fun t e -> { WarmStart.TimeSteps = t; Epochs = e })
    |> Codec.field "time_steps" (fun (w: WarmStart) -> w.TimeSteps) Codec.int
    |> Codec.field "epochs" (fun (w: WarmStart) -> w.Epochs) Codec.int
    |> Codec.build

let private gradientCodec =
    Codec.enum [ "surrogate", FineTuneGradient.Surrogate; "rate", FineTuneGradient.Rate ]

let private label (p: Parameters) =
    let schedule =
        match p.Schedule with
        | Cosine -> " cosine"
        | CosinePerEpoch -> " cosine per epoch"
        | Constant -> ""

    // Each setting that differs from its default, in this order.
    let settings =
        [ if p.BatchSize <> defaults.BatchSize then
              $"batch %d{p.BatchSize}"
          if p.InitialAlpha <> defaults.InitialAlpha then
              $"alpha %g{p.InitialAlpha}"
          match p.Distill with
          | Some d -> $"from %s{d.Teacher.Description} (tau %g{d.Temperature}, alpha %g{d.Alpha})"
          | None -> ()
          if p.PerStepLoss then
              "loss at every step"
          match p.AverageDecay with
          | Some d -> $"weights averaged (decay %g{d})"
          | None -> ()
          if p.LearnThresholds then
              "thresholds learned"
          if p.Gradient = FineTuneGradient.Rate then
              "rate gradient"
          if not p.DetachReset then
              "reset differentiated"
          if p.LabelSmoothing > 0.0 then
              $"label smoothing %g{p.LabelSmoothing}"
          if p.BatchNorm then
              "batch norm"
          match p.WarmStart with
          | Some w -> $"from T = %d{w.TimeSteps} after %d{w.Epochs} epochs there"
          | None -> ()
          match p.TimeSteps with
          | Some ts -> "at T = " + (ts |> List.map string |> String.concat ", ")
          | None -> () ]

    let extra = settings |> List.map (fun s -> ", " + s) |> String.concat ""
    $"fineTuneSnn (%d{p.Epochs} epochs, lr %g{p.LearningRate}%s{schedule}%s{extra})"

/// Adam's rate per step over a fine-tune of `epochs` epochs of `batches` batches.
let private rates (p: Parameters) (epochs: int) (batches: int) : ILearningRateSchedule =
    match p.Schedule with
    | Cosine -> CosineSchedule(p.LearningRate, max 1L (int64 epochs * int64 batches))
    | CosinePerEpoch -> EpochCosineSchedule(p.LearningRate, max 1 epochs, max 1L (int64 batches))
    | Constant -> ConstantSchedule(p.LearningRate)

/// The objective of a batch: the options' default cross-entropy, distillation from the teacher,
/// or the label-smoothed cross-entropy (validation refuses both together).
let private objective (p: Parameters) (ctx: StepContext) : TrainingLoss option =
    match p.Distill with
    | Some d ->
        let teacher = ctx.Ann d.Teacher
        teacher.eval ()
        Some(Distillation.Objective(teacher, d.Temperature, d.Alpha))
    | None when p.LabelSmoothing > 0.0 -> Some(LabelSmoothing.Objective p.LabelSmoothing)
    | None -> None

/// One fine-tune of `snn` at T for `epochs` epochs with the step's settings (the loader's shuffle
/// seeded by T), logged under `what`; the weights of the epoch with the best held-out accuracy at T are kept.
let private train
    (p: Parameters)
    (ctx: StepContext)
    (snn: Snn.Core.Simulation.SpikingNetwork)
    (t: int)
    (epochs: int)
    (what: string)
    =
    let loader = ctx.Data.TrainLoader(p.BatchSize, ctx.Seed + 30 + t)
    let task = ctx.Progress.Start(what, epochs * loader.BatchCount)

    let options =
        NetworkFineTuneOptions(
            LearningRate = p.LearningRate,
            Schedule = rates p epochs loader.BatchCount,
            Loss = Option.toObj (objective p ctx),
            Epochs = epochs,
            InitialSlope = p.InitialAlpha,
            PerStepLoss = p.PerStepLoss,
            AverageDecay = Option.toNullable p.AverageDecay,
            LearnThresholds = p.LearnThresholds,
            Gradient = p.Gradient,
            DetachReset = p.DetachReset,
            BatchNorm = p.BatchNorm
        )

    let history =
        NetworkFineTune.FineTune(
            snn,
            (fun e ->
                loader.Epoch e
                |> Seq.map (fun struct (x, y) -> struct (ctx.Data.OnDevice x, ctx.Data.OnDevice y))),
            ctx.Data.HeldOutBatches |> Seq.map (fun (x, y) -> struct (x, y)),
            t,
            options,
            (fun e loss -> task.Advance(1, $"epoch {e + 1} loss %.3f{loss}"))
        )

    task.Finish()
    history

/// The network to fine-tune for T: its own, or a copy of the warm-start network fine-tuned at that T
/// first (the warm-start network itself is left as it was).
let private start (p: Parameters) (ctx: StepContext) (t: int) =
    match p.WarmStart with
    | None -> ctx.Spiking t, None
    | Some w ->
        let snn = (ctx.Spiking w.TimeSteps).Clone()

        let history =
            train p ctx snn w.TimeSteps w.Epochs $"T={t}: warm start at T={w.TimeSteps}"

        ctx.Log $"T={t}: warm start at T={w.TimeSteps}, {accuracies history}"
        snn, Some(historyRecord w.TimeSteps history)

let private fineTune (p: Parameters) (ctx: StepContext) (t: int) =
    let source = p.WarmStart |> Option.map _.TimeSteps |> Option.defaultValue t
    let thresholdsBefore = meanThresholds (ctx.Spiking source)
    let snn, warm = start p ctx t
    let history = train p ctx snn t p.Epochs $"T={t}: fine-tune the spiking network"
    ctx.Log $"T={t}: fine-tuned the spiking network, {accuracies history}"
    let record = historyRecord t history
    warm |> Option.iter (fun w -> record["warm_start"] <- w)

    if p.LearnThresholds then
        record["thresholds"] <- thresholdRecord ctx t thresholdsBefore (meanThresholds snn)

    ctx.Put(Spiking t, SpikingValue snn, [ CustomRecord("fineTuneSnn", record) ])

/// Whether the step fine-tunes the spiking network for T.
let private selected (p: Parameters) (t: int) =
    p.TimeSteps |> Option.forall (List.contains t)

let private warmStartProblems (p: Parameters) =
    match p.WarmStart with
    | None -> []
    | Some w ->
        Declare.inRange "warm_start.time_steps" 1 1024 w.TimeSteps
        @ Declare.inRange "warm_start.epochs" 1 Training.MaxEpochs w.Epochs
        @ (match p.TimeSteps with
           | None ->
               [ $"warm_start needs time_steps: the T of the networks grown from the T = %d{w.TimeSteps} network (null would include that network itself)" ]
           | Some ts when List.contains w.TimeSteps ts ->
               [ $"time_steps contains T = %d{w.TimeSteps}, the warm start's own T: expected only the T of the networks grown from it" ]
           | _ -> [])

/// Each network the step makes (its T) with the descriptor of the network it starts from: its own,
/// or the warm start's.
let private starts (p: Parameters) (all: (int * SpikingInfo) list) =
    let have () =
        all |> List.map (fst >> string) |> String.concat ", "

    match p.WarmStart with
    | Some w ->
        match List.tryFind (fst >> (=) w.TimeSteps) all with
        | Some(_, i) -> Ok [ for t in Option.defaultValue [] p.TimeSteps -> t, i ]
        | None ->
            Error
                $"warm_start.time_steps = %d{w.TimeSteps} has no spiking network here (the earlier steps make them for T = %s{have ()})"
    | None ->
        let missing =
            p.TimeSteps
            |> Option.defaultValue []
            |> List.filter (fun t -> not (List.exists (fst >> (=) t) all))

        if missing.IsEmpty then
            Ok(all |> List.filter (fst >> selected p))
        else
            let want = missing |> List.map string |> String.concat ", "

            Error
                $"time_steps asks for T = %s{want}, which has no spiking network here (the earlier steps make them for T = %s{have ()})"

/// batch_norm folds into every spiking layer's synapse bias, so each conv and hidden linear needs one.
let private biasProblems (p: Parameters) (made: (int * SpikingInfo) list) =
    [ for t, i in (if p.BatchNorm then made else []) do
          for n, layer in Inference.biaslessLayers i.SourceInfo.Spec ->
              $"batch_norm folds into each synapse's bias, and layer %d{n} (%s{layer.Description}) of the T = %d{t} network has none: expected convolutions and hidden linear layers with a bias (batch norm folded, or bias = true)" ]
    |> List.distinct

let definition: StepDefinition<Parameters> =
    { Name = "fineTuneSnn"
      Parameters =
        Codec.record (fun e lr s b a d perStep average ts learn warm gradient detach smoothing norm ->
            { Epochs = e
              LearningRate = lr
              Schedule = s
              BatchSize = b
              InitialAlpha = a
              Distill = d
              PerStepLoss = perStep
              AverageDecay = average
              TimeSteps = ts
              LearnThresholds = learn
              WarmStart = warm
              Gradient = gradient
              DetachReset = detach
              LabelSmoothing = smoothing
              BatchNorm = norm })
        |> Codec.field "epochs" _.Epochs Codec.int
        |> Codec.fieldOr "learning_rate" _.LearningRate Codec.float defaults.LearningRate
        |> Codec.fieldOr "schedule" _.Schedule Sgd.schedule defaults.Schedule
        |> Codec.fieldOr "batch_size" _.BatchSize Codec.int defaults.BatchSize
        |> Codec.fieldOr "initial_alpha" _.InitialAlpha Codec.float defaults.InitialAlpha
        |> Codec.fieldOr "distill" _.Distill (Codec.option teaching) defaults.Distill
        |> Codec.fieldOr "per_step_loss" _.PerStepLoss Codec.bool defaults.PerStepLoss
        |> Codec.fieldOr "average_decay" _.AverageDecay (Codec.option Codec.float) defaults.AverageDecay
        |> Codec.fieldOr "time_steps" _.TimeSteps (Codec.option (Codec.list Codec.int)) defaults.TimeSteps
        |> Codec.fieldAdded "learn_thresholds" _.LearnThresholds Codec.bool defaults.LearnThresholds
        |> Codec.fieldAdded "warm_start" _.WarmStart (Codec.option warmStart) defaults.WarmStart
        |> Codec.fieldAdded "gradient" _.Gradient gradientCodec defaults.Gradient
        |> Codec.fieldAdded "detach_reset" _.DetachReset Codec.bool defaults.DetachReset
        |> Codec.fieldAdded "label_smoothing" _.LabelSmoothing Codec.float defaults.LabelSmoothing
        |> Codec.fieldAdded "batch_norm" _.BatchNorm Codec.bool defaults.BatchNorm
      Label = label
      Problems =
        fun p ->
            Declare.inRange "epochs" 1 Training.MaxEpochs p.Epochs
            @ [ if not (p.LearningRate > 0.0 && p.LearningRate <= 1.0) then
                    $"learning_rate = %g{p.LearningRate} is out of range: expected (0, 1]" ]
            @ Declare.inRange "batch_size" 1 65536 p.BatchSize
            @ Declare.positive "initial_alpha" p.InitialAlpha
            @ [ if p.Gradient = FineTuneGradient.Rate && p.InitialAlpha <> defaults.InitialAlpha then
                    $"initial_alpha = %g{p.InitialAlpha} has no use with gradient \"rate\": expected the surrogate gradient (\"surrogate\") or no initial_alpha"
                if not (p.LabelSmoothing >= 0.0 && p.LabelSmoothing < 1.0) then
                    $"label_smoothing = %g{p.LabelSmoothing} is out of range: expected [0, 1) (the share of the target spread over the classes)"
                if p.LabelSmoothing > 0.0 && p.Distill.IsSome then
                    "label_smoothing has no use with distill (the teacher's soft targets replace it): expected one of the two"
                if p.BatchNorm && p.AverageDecay.IsSome then
                    "batch_norm cannot be combined with average_decay (the batch statistics are not averaged): expected one of the two"
                if p.Gradient = FineTuneGradient.Rate && not p.DetachReset then
                    "detach_reset = false has no use with gradient \"rate\" (no gradient flows through time): expected the surrogate gradient (\"surrogate\") or no detach_reset" ]
            @ (match p.Distill with
               | Some d ->
                   Declare.positive "distill.temperature" d.Temperature
                   @ [ if not (d.Alpha >= 0.0 && d.Alpha <= 1.0) then
                           $"distill.alpha = %g{d.Alpha} is out of range: expected [0, 1] (the weight of the teacher's term)" ]
               | None -> [])
            @ (match p.AverageDecay with
               | Some d when not (d >= 0.0 && d < 1.0) ->
                   [ $"average_decay = %g{d} is out of range: expected [0, 1) (the weight of the old average at each step), or null for none" ]
               | _ -> [])
            @ (match p.TimeSteps with
               | Some [] -> [ "time_steps = [] is empty: expected at least one T, or null for every spiking network" ]
               | _ -> [])
            @ warmStartProblems p
      Declare =
        fun p s ->
            let teacher =
                match p.Distill with
                | Some d ->
                    match Declare.ann d.Teacher s with
                    | Ok _ -> Ok [ Network d.Teacher ]
                    | Error _ ->
                        Error
                            $"distill.teacher = \"%s{(ArtifactCodec.ann.Encode d.Teacher).ToString()}\" needs %s{d.Teacher.Description}, which no earlier step makes"
                | None -> Ok []

            let all = Declare.spikingNetworks s

            match all, teacher with
            | [], _ -> Declare.fromProblems [ "needs a spiking network: add convert before fineTuneSnn" ]
            | _, Error problem -> Declare.fromProblems [ problem ]
            | _, Ok teacherNeeds ->
                match starts p all with
                | Error problem -> Declare.fromProblems [ problem ]
                | Ok made when not (biasProblems p made).IsEmpty -> Declare.fromProblems (biasProblems p made)
                | Ok made ->
                    { Declare.none with
                        Needs =
                            teacherNeeds
                            @ (made |> List.map (fun (_, i) -> Spiking i.TimeSteps) |> List.distinct)
                        Makes =
                            [ for t, i in made ->
                                  Spiking t,
                                  SpikingDescriptor
                                      { i with
                                          TimeSteps = t
                                          Lineage = i.Lineage @ [ StepApplied(label p) ] } ]
                        Records = true }
      Run =
        fun p ctx ->
            let ts =
                match p.WarmStart, p.TimeSteps with
                | Some _, Some ts -> ts
                | _ -> SpikingRuns.timeSteps ctx |> List.filter (selected p)

            for t in ts do
                fineTune p ctx t }

/// Fine-tunes every spiking network end to end for this many epochs.
let step epochs =
    Step.create definition { defaults with Epochs = epochs }
