/// The options of `snn bench` and the sizes of one bench run made from them.
module Snn.Cli.Bench.Args

open System
open Argu

/// Options of `snn bench`.
type BenchArgs =
    | Quick
    | Data of path: string
    | Results of path: string
    | Output of path: string
    | Repeats of count: int
    | Train_Repeats of count: int
    | Sim_Processes of count: int
    | Scale
    | [<Hidden>] Model of name: string
    | [<Hidden>] Batch of size: int
    | [<Hidden>] Only of part: string
    | [<Hidden; CustomCommandLine("--T")>] Time_Steps of steps: int
    | [<Hidden>] Report_To of path: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Quick -> "a shorter run (fewer batches and repetitions) for development."
            | Data _ -> "Fashion-MNIST folder (else SNN_DATA, else /usr/share/datasets/fashion-mnist)."
            | Results _ ->
                "results.json of a bench-profile run (default runs/bench/results.json): phase2_share from its wall_seconds."
            | Output _ -> "where to write the figures (default bench.json)."
            | Repeats _ -> "repetitions of every simulation timing, the median is reported (default 5, quick 2)."
            | Train_Repeats _ ->
                "repetitions of the training-epoch timing (ReLU, clip, noisy QC interleaved), the median ratio is reported (default 7, quick 2)."
            | Sim_Processes _ ->
                "child processes per simulation timing, their repetitions pooled (default 2, quick 1): the ANN's and the simulator's speeds vary from process to process."
            | Scale ->
                "measure how cost grows with model size, T and batch (fmnist-vgg, resnet20, vgg16, resnet34 on synthetic images); writes bench.json's \"scale\"."
            | Model _ -> "internal: the model of an --only scale-* measurement."
            | Batch _ -> "internal: the batch size of an --only scale-* measurement."
            | Only _ -> "internal: run one measurement (sim, simpeak, train, phase2) in this process."
            | Time_Steps _ -> "internal: T of an --only sim / simpeak measurement."
            | Report_To _ -> "internal: file that receives the measurement's JSON."

/// The sizes of one bench run.
type Plan =
    {
        Quick: bool
        Repeats: int
        /// Repetitions of the training timing (short passes vary by a few per cent, so more).
        TrainRepeats: int
        /// Child processes per simulation timing (repetitions pooled).
        SimProcesses: int
        /// Test batches of 256 timed per simulation repetition.
        SimBatches: int
        /// Training batches of 128 timed per epoch estimate.
        TrainBatches: int
        DataPath: string option
        /// The model and batch size of a scale-bench measurement (--model, --batch).
        Model: string
        Batch: int
    }

/// The plan of a bench run: the quick or full sizes, with the repetitions the options set.
let planOf (args: ParseResults<BenchArgs>) =
    let quick = args.Contains Quick

    let plan =
        { Quick = quick
          Repeats = args.GetResult(Repeats, (if quick then 2 else 5))
          TrainRepeats = args.GetResult(Train_Repeats, (if quick then 2 else 7))
          SimProcesses = args.GetResult(Sim_Processes, (if quick then 1 else 2))
          SimBatches = (if quick then 1 else 4)
          TrainBatches = (if quick then 6 else 20)
          DataPath = args.TryGetResult BenchArgs.Data
          Model = args.GetResult(Model, "resnet20")
          Batch = args.GetResult(Batch, 32) }

    if plan.Batch < 1 then
        raise (ArgumentException($"--batch = {plan.Batch} is out of range: expected >= 1", "batch"))

    if plan.Repeats < 1 then
        raise (ArgumentException($"--repeats = {plan.Repeats} is out of range: expected >= 1", "repeats"))

    if plan.SimProcesses < 1 then
        raise (
            ArgumentException($"--sim-processes = {plan.SimProcesses} is out of range: expected >= 1", "sim-processes")
        )

    if plan.TrainRepeats < 1 then
        raise (
            ArgumentException($"--train-repeats = {plan.TrainRepeats} is out of range: expected >= 1", "train-repeats")
        )

    plan
