/// `snn bench`: the speed figures of BENCHMARKS.md measured side by side in one run on
/// fmnist-vgg, printed and written to bench.json. Every measurement runs in a child process
/// (`snn bench --only <part>`) so that each gets its own peak working set (VmHWM).
module Snn.Cli.Bench

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Argu
open TorchSharp
open Snn.Core.Data
open Snn.Core.Simulation
open Snn.Core.Training
open Snn.Core.Calibration
open Snn.Dsl

/// Options of `snn bench`.
type BenchArgs =
    | Quick
    | Data of path: string
    | Results of path: string
    | Output of path: string
    | Repeats of count: int
    | Train_Repeats of count: int
    | Sim_Processes of count: int
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
            | Only _ -> "internal: run one measurement (sim, simpeak, train, phase2) in this process."
            | Time_Steps _ -> "internal: T of an --only sim / simpeak measurement."
            | Report_To _ -> "internal: file that receives the measurement's JSON."

/// The sizes of one bench run.
type private Plan =
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
    }

let private timeSteps = [ 1; 2; 4; 8; 16; 32 ]
let private simBatch = 256L
let private trainBatch = 128

let private median (xs: float list) =
    let s = List.sort xs
    let n = s.Length

    if n % 2 = 1 then
        s[n / 2]
    else
        (s[n / 2 - 1] + s[n / 2]) / 2.0

/// Peak resident set of this process in MB: VmHWM from /proc/self/status (Linux), else the
/// runtime's PeakWorkingSet64.
let peakWorkingSetMb () =
    let fromProc =
        try
            File.ReadLines "/proc/self/status"
            |> Seq.tryFind (fun l -> l.StartsWith "VmHWM:")
            |> Option.map (fun l -> float (l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0)
        with _ ->
            None

    match fromProc with
    | Some mb -> mb
    | None -> float (Process.GetCurrentProcess().PeakWorkingSet64) / 1048576.0

/// xs started at index k and wrapped around: the rotating order of interleaved measurements.
let private rotated k (xs: 'a list) = xs[k..] @ xs[.. k - 1]

let private seconds (f: unit -> unit) =
    let w = Stopwatch.StartNew()
    f ()
    w.Elapsed.TotalSeconds

let private log (s: string) = Console.Error.WriteLine s

// ---------------------------------------------------------------------------------------------
// Networks

let private compileOrFail activation spec =
    match Compile.compile activation spec with
    | Ok n -> n
    | Error es -> failwithf "fmnistVgg does not compile: %A" es

/// fmnistVgg with clip thresholds 5.0 and the default (seeded) initialisation, batch norm
/// folded, in evaluation mode: the network that converts.
let private foldedClipNetwork () =
    torch.manual_seed 0L |> ignore
    use trained = compileOrFail (Clip 5.0) Presets.fmnistVgg
    trained.eval ()
    Fold.foldBatchNorm trained

let private spikingOf (folded: CompiledNetwork) =
    match Convert.toSpiking ConversionOptions.Default folded with
    | Ok s -> s
    | Error es -> failwithf "conversion failed: %A" es

let private loadSplits (plan: Plan) =
    DataSplits.Load(DatasetKind.FashionMnist, Option.toObj plan.DataPath, 5000, 224)

/// The first `count` test batches of 256 (normalised, no augmentation).
let private testBatches (splits: DataSplits) count =
    let loader =
        BatchLoader(splits.Test, int simBatch, false, Normalization.FashionMnist)

    loader.Epoch 0
    |> Seq.truncate count
    |> Seq.map (fun struct (x, y) ->
        y.Dispose()
        x)
    |> Seq.toArray

// ---------------------------------------------------------------------------------------------
// Measurement: simulation at one T

let private annPass (ann: CompiledNetwork) (batches: torch.Tensor[]) =
    use _ = torch.no_grad ()

    [| for x in batches do
           use scope = torch.NewDisposeScope()
           (ann.forward x).argmax(1L).MoveToOuterDisposeScope() |]

let private snnPass (snn: SpikingNetwork) t (batches: torch.Tensor[]) =
    [| for x in batches do
           use r = snn.Run(x, t)
           r.Output.argmax 1L |]

let private naivePass (snn: SpikingNetwork) t (batches: torch.Tensor[]) =
    [| for x in batches do
           use scope = torch.NewDisposeScope()
           (NaiveSimulator.Run(snn, x, t)).argmax(1L).MoveToOuterDisposeScope() |]

let private agreement (a: torch.Tensor[]) (b: torch.Tensor[]) =
    let same =
        Array.map2 (fun (x: torch.Tensor) (y: torch.Tensor) -> x.eq(y).sum().item<int64> ()) a b
        |> Array.sum

    let n = a |> Array.sumBy (fun x -> x.shape[0])
    float same / float n

let private disposeAll (xs: torch.Tensor[]) =
    for x in xs do
        x.Dispose()

/// Test batches timed at T: fewer for long runs, so that every T costs about the same.
let private simBatchesAt (plan: Plan) t =
    if plan.Quick then 1
    elif t <= 4 then plan.SimBatches
    elif t <= 8 then max 1 (plan.SimBatches / 2)
    else max 1 (plan.SimBatches / 4)

let private floats (xs: float list) : JsonNode =
    JsonArray(xs |> List.map (fun x -> JsonValue.Create x :> JsonNode) |> Array.ofList)

let private measureSim (plan: Plan) (t: int) : JsonObject =
    use splits = loadSplits plan
    let batches = testBatches splits (simBatchesAt plan t)
    use folded = foldedClipNetwork ()
    use ann = Compile.withActivation Relu folded
    ann.eval ()
    use snn = spikingOf folded
    // Warm-up: first calls allocate caches and pick kernels.
    disposeAll (annPass ann batches[0..0])
    disposeAll (snnPass snn (min t 2) batches[0..0])
    disposeAll (naivePass snn (min t 2) batches[0..0])
    let annTimes = ResizeArray()
    let ourTimes = ResizeArray()
    let naiveTimes = ResizeArray()
    let ours = ResizeArray()
    let naive = ResizeArray()
    let annPred = ResizeArray()

    for r in 0 .. plan.Repeats - 1 do
        let mutable ta, tOurs, tNaive = 0.0, 0.0, 0.0

        // Interleave batch by batch, rotating the order, so that load changes on this shared
        // machine hit the ANN, our simulator and the naive loop alike.
        for b in 0 .. batches.Length - 1 do
            let one = batches[b..b]

            let keep (target: ResizeArray<torch.Tensor>) (p: torch.Tensor[]) =
                if r = 0 then target.AddRange p else disposeAll p

            let runs =
                [ (fun () -> ta <- ta + seconds (fun () -> keep annPred (annPass ann one)))
                  (fun () -> tOurs <- tOurs + seconds (fun () -> keep ours (snnPass snn t one)))
                  (fun () -> tNaive <- tNaive + seconds (fun () -> keep naive (naivePass snn t one))) ]

            let k = (r + b) % 3

            for f in rotated k runs do
                f ()

        annTimes.Add ta
        ourTimes.Add tOurs
        naiveTimes.Add tNaive

        log $"  T={t} repeat {r + 1}/{plan.Repeats}: ANN {ta:F3} s, ours {tOurs:F3} s, naive {tNaive:F3} s"

    let ours = ours.ToArray()
    let naive = naive.ToArray()
    let annPred = annPred.ToArray()

    let ratios (times: ResizeArray<float>) =
        [ for r in 0 .. plan.Repeats - 1 -> times[r] / (float t * annTimes[r]) ]

    let o = ratios ourTimes
    let nv = ratios naiveTimes
    let images = batches.Length * int simBatch

    let result =
        JsonObject(
            dict
                [ "T", JsonValue.Create t :> JsonNode
                  "ratio", JsonValue.Create(median o)
                  "ratio_min", JsonValue.Create(List.min o)
                  "ratio_max", JsonValue.Create(List.max o)
                  "naive_ratio", JsonValue.Create(median nv)
                  "naive_ratio_min", JsonValue.Create(List.min nv)
                  "naive_ratio_max", JsonValue.Create(List.max nv)
                  "agree", JsonValue.Create(agreement ours naive)
                  "agree_with_ann", JsonValue.Create(agreement ours annPred)
                  "images", JsonValue.Create images
                  "ann_seconds", JsonValue.Create(median (List.ofSeq annTimes))
                  "seconds", JsonValue.Create(median (List.ofSeq ourTimes))
                  "naive_seconds", JsonValue.Create(median (List.ofSeq naiveTimes))
                  "images_per_second", JsonValue.Create(float images / median (List.ofSeq ourTimes))
                  "naive_images_per_second", JsonValue.Create(float images / median (List.ofSeq naiveTimes))
                  "ann_images_per_second", JsonValue.Create(float images / median (List.ofSeq annTimes))
                  "ratios", floats o
                  "naive_ratios", floats nv
                  "ann_times", floats (List.ofSeq annTimes)
                  "our_times", floats (List.ofSeq ourTimes)
                  "naive_times", floats (List.ofSeq naiveTimes) ]
        )

    disposeAll ours
    disposeAll naive
    disposeAll annPred
    disposeAll batches
    result

/// Our simulator alone over the test batches at T: the peak working set of simulating.
let private measureSimPeak (plan: Plan) (t: int) : JsonObject =
    use splits = loadSplits plan
    // Two batches at least: memory is released batch by batch, so a second batch shows that the peak does not grow.
    let batches = testBatches splits (max 2 (simBatchesAt plan t))
    use folded = foldedClipNetwork ()
    use snn = spikingOf folded
    let s = seconds (fun () -> disposeAll (snnPass snn t batches))
    let images = batches.Length * int simBatch
    disposeAll batches

    JsonObject(
        dict
            [ "T", JsonValue.Create t :> JsonNode
              "images", JsonValue.Create images
              "seconds", JsonValue.Create s
              "images_per_second", JsonValue.Create(float images / s) ]
    )

/// Development aid: where an ANN pass spends its time (per top-level module), and the
/// simulator at several time chunks, on one test batch.
let private profile (plan: Plan) (t: int) : JsonObject =
    use splits = loadSplits plan
    let batches = testBatches splits 1
    let x = batches[0]
    use folded = foldedClipNetwork ()
    use ann = Compile.withActivation Relu folded
    ann.eval ()
    use snn = spikingOf folded
    use _ = torch.no_grad ()
    let layers = ann.named_children () |> Seq.toArray

    let perLayer =
        [| for _ in 1 .. plan.Repeats do
               let mutable h = x.alias ()

               [| for struct (name, m) in layers do
                      let m = m :?> torch.nn.Module<torch.Tensor, torch.Tensor>
                      let mutable y = null
                      let s = seconds (fun () -> y <- m.forward h)
                      h <- y
                      name, s |] |]

    for i in 0 .. layers.Length - 1 do
        let name = fst (perLayer[0][i])
        let s = median [ for r in perLayer -> snd (r[i]) ]
        log $"  ANN {name, -10} {s * 1000.0, 8:F1} ms"

    let chunks =
        [ for chunk in [ 1; 2; 4; 8 ] do
              if chunk <= t then
                  let options = SimulationOptions(TimeChunk = chunk)

                  let s =
                      median
                          [ for _ in 1 .. plan.Repeats ->
                                seconds (fun () ->
                                    use r = snn.Run(x, t, options)
                                    ()) ]

                  log $"  simulator T={t} chunk {chunk}: {s:F3} s"
                  string chunk, JsonValue.Create s :> JsonNode ]

    disposeAll batches
    JsonObject(dict [ "chunk_seconds", JsonObject(dict chunks) :> JsonNode ])

// ---------------------------------------------------------------------------------------------
// Measurement: training epochs

let private trainBatches (plan: Plan) (splits: DataSplits) =
    let loader =
        BatchLoader(
            splits.Train,
            trainBatch,
            true,
            Normalization.FashionMnist,
            Augmentation.For DatasetKind.FashionMnist,
            0,
            true
        )

    let w = Stopwatch.StartNew()

    let batches =
        loader.Epoch 0
        |> Seq.truncate plan.TrainBatches
        |> Seq.map (fun struct (x, y) -> x, y)
        |> Seq.toArray

    let loadSeconds = w.Elapsed.TotalSeconds
    batches, loadSeconds, loader.BatchCount

/// Trains `model` for one pass over copies of `batches` and returns the wall time (the copies are
/// made inside the timed span, as a loader hands out fresh tensors).
let private trainPass
    (model: CompiledNetwork)
    (optimizer: torch.optim.Optimizer)
    (batches: (torch.Tensor * torch.Tensor)[])
    =
    let schedule = CosineSchedule(0.05, 1000000L)

    seconds (fun () ->
        let copies = batches |> Seq.map (fun (x, y) -> struct (x.clone (), y.clone ()))

        Trainer.TrainEpoch(model, optimizer, copies, schedule, 0L, 0L) |> ignore)

let private sgd (model: CompiledNetwork) =
    torch.optim.SGD(model.parameters (), 0.05, momentum = 0.9, weight_decay = 5e-4)

/// The three networks whose training steps are compared (same seeded initialisation), each with its optimizer.
let private trainingNetworks () =
    [ "relu", Relu; "clip", Clip 5.0; "noisy_qc", NoisyQC(4, 5.0, 0.1) ]
    |> List.map (fun (name, act) ->
        torch.manual_seed 0L |> ignore
        let m = compileOrFail act Presets.fmnistVgg
        name, m, sgd m)

let private measureTrain (plan: Plan) : JsonObject =
    use splits = loadSplits plan
    let batches, loadSeconds, batchesPerEpoch = trainBatches plan splits

    let variants = trainingNetworks ()

    // Warm-up pass of each on two batches.
    for _, m, o in variants do
        trainPass m o batches[0..1] |> ignore

    let times = variants |> List.map (fun (n, _, _) -> n, ResizeArray<float>()) |> dict

    // Interleaved batch by batch (the order of the three networks rotating), so that slow drifts of
    // this machine's speed hit all three alike; one repetition = every batch once per network.
    for r in 0 .. plan.TrainRepeats - 1 do
        let sums = Collections.Generic.Dictionary<string, float>()

        for n, _, _ in variants do
            sums[n] <- 0.0

        for b in 0 .. batches.Length - 1 do
            let k = (r + b) % variants.Length

            for n, m, o in rotated k variants do
                sums[n] <- sums[n] + trainPass m o batches[b..b]

        for n, _, _ in variants do
            times[n].Add sums[n]

        log (
            $"  training repeat {r + 1}/{plan.TrainRepeats}: "
            + (variants
               |> List.map (fun (n, _, _) -> $"{n} {times[n][r]:F2} s")
               |> String.concat ", ")
        )

    let ratioOf n =
        [ for r in 0 .. plan.TrainRepeats - 1 -> times[n][r] / times["relu"][r] ]

    let perEpoch n =
        median (List.ofSeq times[n]) / float batches.Length * float batchesPerEpoch

    // Data loading: the same loader producing the timed batches, extrapolated to an epoch.
    let loadEpoch = loadSeconds / float batches.Length * float batchesPerEpoch

    for _, m, o in variants do
        o.Dispose()
        m.Dispose()

    for x, y in batches do
        x.Dispose()
        y.Dispose()

    let clip = ratioOf "clip"
    let qc = ratioOf "noisy_qc"

    JsonObject(
        dict
            [ "batches", JsonValue.Create batches.Length :> JsonNode
              "batches_per_epoch", JsonValue.Create batchesPerEpoch
              "clip", JsonValue.Create(median clip)
              "clip_min", JsonValue.Create(List.min clip)
              "clip_max", JsonValue.Create(List.max clip)
              "noisy_qc", JsonValue.Create(median qc)
              "noisy_qc_min", JsonValue.Create(List.min qc)
              "noisy_qc_max", JsonValue.Create(List.max qc)
              "relu_epoch_s", JsonValue.Create(perEpoch "relu")
              "clip_epoch_s", JsonValue.Create(perEpoch "clip")
              "noisy_qc_epoch_s", JsonValue.Create(perEpoch "noisy_qc")
              "data_loading_epoch_s", JsonValue.Create loadEpoch
              "images_per_second",
              JsonValue.Create(float (batches.Length * trainBatch) / median (List.ofSeq times["clip"])) ]
    )

/// Development aid: where a training step of the three networks spends its time (zero_grad,
/// forward + loss, backward, optimizer step), interleaved batch by batch; the first repetition is a warm-up.
let private trainProfile (plan: Plan) : JsonObject =
    use splits = loadSplits plan
    let batches, _, _ = trainBatches plan splits

    let variants = trainingNetworks ()

    for _, m, _ in variants do
        m.train ()

    let acc = Collections.Generic.Dictionary<string, float[]>()

    for n, _, _ in variants do
        acc[n] <- Array.zeroCreate 4

    for r in 0 .. plan.TrainRepeats - 1 do
        for b in 0 .. batches.Length - 1 do
            let k = (r + b) % 3

            for n, m, o in rotated k variants do
                use scope = torch.NewDisposeScope()
                let x, y = batches[b]
                let x, y = x.clone (), y.clone ()
                let w = Stopwatch.StartNew()
                o.zero_grad ()
                let t0 = w.Elapsed.TotalSeconds
                let logits = m.forward x
                let loss = torch.nn.functional.cross_entropy (logits, y)
                let t1 = w.Elapsed.TotalSeconds
                loss.backward ()
                let t2 = w.Elapsed.TotalSeconds
                o.step () |> ignore
                let t3 = w.Elapsed.TotalSeconds

                if r > 0 then
                    let a = acc[n]
                    a[0] <- a[0] + t0
                    a[1] <- a[1] + t1 - t0
                    a[2] <- a[2] + t2 - t1
                    a[3] <- a[3] + t3 - t2

    for n, _, _ in variants do
        let a = acc[n]
        log $"  {n}: zero_grad {a[0]:F2} forward {a[1]:F2} backward {a[2]:F2} step {a[3]:F2} total {Array.sum a:F2}"

    JsonObject()

// ---------------------------------------------------------------------------------------------
// Measurement: Phase II proxy

let private measurePhase2 (plan: Plan) : JsonObject =
    use splits = loadSplits plan

    let heldOut =
        BatchLoader(splits.HeldOut, trainBatch, false, Normalization.FashionMnist)

    let held =
        heldOut.Epoch 0
        |> Seq.truncate ((1024 + 256) / trainBatch)
        |> Seq.map (fun struct (x, y) ->
            y.Dispose()
            x)
        |> Seq.toArray

    let calibration = held[.. 1024 / trainBatch - 1]
    let early = held[1024 / trainBatch ..]

    let weights = Snn.Dsl.Pipeline.Steps.CalibrateWeights.defaults

    let options =
        CalibrationOptions(
            LearningRate = weights.LearningRate,
            MaxEpochs = weights.Epochs,
            Patience = weights.Patience,
            InitialSlope = weights.InitialAlpha
        )

    use folded = foldedClipNetwork ()

    // Phase II is measured at T = 1 only (several minutes on 2 shared cores); T = 2 and 4 are
    // extrapolated as T x that, an upper bound: the BPTT work grows with T, the ANN targets and the
    // data handling do not.
    let measured =
        [ for t in [ 1 ] do
              use qc = Compile.withActivation (QC(t, 5.0)) folded
              qc.eval ()
              use snn = spikingOf qc

              let s =
                  seconds (fun () ->
                      PhaseTwo.Calibrate(
                          snn,
                          Convert.annActivations qc,
                          calibration,
                          early,
                          t,
                          PhaseTwoStages.All,
                          options
                      )
                      |> ignore)

              log $"  Phase II at T={t}: {s:F1} s"
              t, s ]

    let phase2 = [ for t in [ 1; 2; 4 ] -> t, float t * snd measured.Head ]

    // One Phase-I epoch: clip training on the bench's training batches, extrapolated.
    let batches, _, batchesPerEpoch = trainBatches plan splits
    torch.manual_seed 0L |> ignore
    use clip = compileOrFail (Clip 5.0) Presets.fmnistVgg
    use opt = sgd clip
    trainPass clip opt batches[0..1] |> ignore

    let epoch =
        median [ for _ in 1 .. plan.Repeats -> trainPass clip opt batches ]
        / float batches.Length
        * float batchesPerEpoch

    for x, y in batches do
        x.Dispose()
        y.Dispose()

    disposeAll held
    let e, f = 10, 3
    let phase1 = epoch * float (e + 3 * f)
    let total = phase2 |> List.sumBy snd

    JsonObject(
        dict
            [ "phase2_seconds",
              JsonObject(dict [ for t, s in phase2 -> string t, JsonValue.Create s :> JsonNode ]) :> JsonNode
              "phase2_measured_at_T", JsonValue.Create 1
              "phase2_extrapolation", JsonValue.Create "Phase II(T) = T x Phase II(1), an upper bound"
              "phase1_epoch_seconds", JsonValue.Create epoch
              "phase1_epochs", JsonValue.Create(e + 3 * f)
              "phase1_seconds_estimate", JsonValue.Create phase1
              "share", JsonValue.Create(total / phase1) ]
    )

// ---------------------------------------------------------------------------------------------
// Child processes and the report

let private runChild (plan: Plan) (args: string list) : JsonObject =
    let report = Path.GetTempFileName()
    let self = Environment.ProcessPath
    let entry = Reflection.Assembly.GetEntryAssembly().Location

    let prefix =
        if Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase) then
            [ entry ]
        else
            []

    let all =
        prefix
        @ [ "bench" ]
        @ args
        @ [ "--report-to"; report ]
        @ (if plan.Quick then [ "--quick" ] else [])
        @ [ "--repeats"
            string plan.Repeats
            "--train-repeats"
            string plan.TrainRepeats ]
        @ (match plan.DataPath with
           | Some p -> [ "--data"; p ]
           | None -> [])

    let info = ProcessStartInfo(self)

    for a in all do
        info.ArgumentList.Add a

    info.UseShellExecute <- false
    use p = Process.Start info
    p.WaitForExit()

    if p.ExitCode <> 0 then
        failwithf "snn bench %s failed with exit code %d" (String.Join(" ", args)) p.ExitCode

    let node = JsonNode.Parse(File.ReadAllText report).AsObject()
    File.Delete report
    node

let private childMeasurement (plan: Plan) (part: string) (t: int) (reportTo: string) =
    let measure () =
        match part with
        | "sim" -> measureSim plan t
        | "simpeak" -> measureSimPeak plan t
        | "train" -> measureTrain plan
        | "phase2" -> measurePhase2 plan
        | "profile" -> profile plan t
        | "trainprofile" -> trainProfile plan
        | other ->
            raise (
                ArgumentException(
                    $"--only = {other} is not a measurement: expected sim, simpeak, train or phase2",
                    "only"
                )
            )

    let result =
        try
            measure ()
        with e ->
            // The parent reports the exit code; the child says exactly what failed.
            log $"snn bench --only {part}: {e}"
            reraise ()

    result["peak_working_set_mb"] <- JsonValue.Create(peakWorkingSetMb ())
    result["threads"] <- JsonValue.Create(torch.get_num_threads ())
    File.WriteAllText(reportTo, result.ToJsonString())
    0

/// A number of a measurement's JSON, whether it was parsed from a child's report or built here
/// (an in-memory JsonValue keeps its .NET type, and an int does not convert to float by itself).
let private num (o: JsonObject) (key: string) =
    let v = o[key].AsValue()

    match v.TryGetValue<float>() with
    | true, x -> x
    | _ -> float (v.GetValue<int>())

/// One simulation figure from several child processes: the repetitions of all of them pooled
/// (median, min, max), agreement the lowest, peak the highest.
let private mergeSims (parts: JsonObject list) : JsonObject =
    let all (key: string) =
        parts
        |> List.collect (fun (p: JsonObject) ->
            p[key].AsArray() |> Seq.map (fun n -> n.GetValue<float>()) |> List.ofSeq)

    let o, nv = all "ratios", all "naive_ratios"
    let images = num parts.Head "images"
    let perSecond key = images / median (all key)

    JsonObject(
        dict
            [ "T", JsonValue.Create(int (num parts.Head "T")) :> JsonNode
              "processes", JsonValue.Create parts.Length
              "ratio", JsonValue.Create(median o)
              "ratio_min", JsonValue.Create(List.min o)
              "ratio_max", JsonValue.Create(List.max o)
              "naive_ratio", JsonValue.Create(median nv)
              "naive_ratio_min", JsonValue.Create(List.min nv)
              "naive_ratio_max", JsonValue.Create(List.max nv)
              "ratio_per_process", floats [ for p in parts -> num p "ratio" ]
              "agree", JsonValue.Create(parts |> List.map (fun p -> num p "agree") |> List.min)
              "agree_with_ann", JsonValue.Create(parts |> List.map (fun p -> num p "agree_with_ann") |> List.min)
              "images", JsonValue.Create(int images)
              "ann_seconds", JsonValue.Create(median (all "ann_times"))
              "seconds", JsonValue.Create(median (all "our_times"))
              "naive_seconds", JsonValue.Create(median (all "naive_times"))
              "images_per_second", JsonValue.Create(perSecond "our_times")
              "naive_images_per_second", JsonValue.Create(perSecond "naive_times")
              "ann_images_per_second", JsonValue.Create(perSecond "ann_times")
              "peak_working_set_mb",
              JsonValue.Create(parts |> List.map (fun p -> num p "peak_working_set_mb") |> List.max) ]
    )

/// phase2_share from a pipeline's results.json, when it exists and has both wall times.
let private phase2FromResults (path: string) =
    if File.Exists path then
        try
            let w = JsonNode.Parse(File.ReadAllText path)["wall_seconds"]
            let p1 = w["phase1"].GetValue<float>()
            let p2 = w["phase2"].GetValue<float>()
            if p1 > 0.0 then Some(p2 / p1, p1, p2) else None
        with _ ->
            None
    else
        None

/// phase2_share from the stage records of a pipeline run that has not finished yet: Phase I = the
/// clip stage plus every fine-tune stage, Phase II = the calibration time of every phase2-T{T}
/// stage; only when Phase II is recorded for every fine-tuned L (= T).
let private phase2FromStages (stages: string) =
    let read (name: string) =
        let path = Path.Combine(stages, name)

        if File.Exists path then
            Some(JsonNode.Parse(File.ReadAllText path))
        else
            None

    try
        match read "clip.json" with
        | None -> None
        | Some clip ->
            let fineTuned =
                if Directory.Exists stages then
                    Directory.GetFiles(stages, "finetune-L*.json")
                    |> Array.map (fun f -> int (Path.GetFileNameWithoutExtension(f).Substring("finetune-L".Length)))
                    |> Array.sort
                else
                    [||]

            let phase2 = fineTuned |> Array.map (fun l -> read $"phase2-T{l}.json")

            if fineTuned.Length = 0 || phase2 |> Array.exists Option.isNone then
                None
            else
                let p1 =
                    clip["seconds"].GetValue<float>()
                    + (fineTuned
                       |> Array.sumBy (fun l ->
                           let stage = (read $"finetune-L{l}.json").Value
                           stage["seconds"].GetValue<float>()))

                let p2 =
                    phase2
                    |> Array.sumBy (fun s ->
                        let entry: JsonNode = s.Value["entry"]
                        entry["calibration_seconds"].GetValue<float>())

                if p1 > 0.0 then Some(p2 / p1, p1, p2) else None
    with _ ->
        None

let private kernelThreads =
    if Snn.Core.Native.TorchThreads.UsesTorchTeam then
        "libtorch's OpenMP team"
    else
        ".NET's thread pool"

let private sourceOfSimulation =
    "fmnistVgg with its default seeded initialisation (seed 0), clip thresholds 5.0, batch norm folded and converted "
    + "with v(0) = theta/2; the simulation is dense, so its cost does not depend on spike activity."

let runBench (args: ParseResults<BenchArgs>) =
    let quick = args.Contains Quick

    let plan =
        { Quick = quick
          Repeats = args.GetResult(Repeats, (if quick then 2 else 5))
          TrainRepeats = args.GetResult(Train_Repeats, (if quick then 2 else 7))
          SimProcesses = args.GetResult(Sim_Processes, (if quick then 1 else 2))
          SimBatches = (if quick then 1 else 4)
          TrainBatches = (if quick then 6 else 20)
          DataPath = args.TryGetResult BenchArgs.Data }

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

    match args.TryGetResult Only with
    | Some part ->
        let reportTo =
            match args.TryGetResult Report_To with
            | Some p -> p
            | None ->
                raise (ArgumentException("--only needs --report-to: the file that receives the JSON", "report-to"))

        childMeasurement plan part (args.GetResult(Time_Steps, 1)) reportTo
    | None ->
        let clock = Stopwatch.StartNew()
        let cores = Environment.ProcessorCount

        printfn
            "snn bench%s: fmnist-vgg, test set batches of %d, inference mode; %d cores"
            (if quick then " --quick" else "")
            simBatch
            cores

        printfn "network: %s" sourceOfSimulation

        printfn
            "timing: median of %d repetitions x %d processes, pooled (min-max in brackets), our simulator, the naive loop and the ANN interleaved batch by batch; training: median of %d repetitions, the three networks interleaved batch by batch"
            plan.Repeats
            plan.SimProcesses
            plan.TrainRepeats

        printfn "each measurement runs in its own process; peak working set = that process's VmHWM"

        printfn
            "kernels (neuron scan, clip / QC activations) run on %s; malloc thresholds %s"
            kernelThreads
            (if Snn.Core.Native.NativeAllocator.Tuned then
                 "fixed (Snn.Core.Native.NativeAllocator)"
             else
                 "glibc's defaults")

        printfn ""

        printfn
            "%4s %22s %22s %7s %9s %9s %9s %8s"
            "T"
            "sim_ratio"
            "naive_ratio"
            "agree"
            "img/s"
            "naive"
            "ANN img/s"
            "peak MB"

        let sims =
            [ for t in timeSteps do
                  let s =
                      mergeSims
                          [ for _ in 1 .. plan.SimProcesses -> runChild plan [ "--only"; "sim"; "--T"; string t ] ]

                  printfn
                      "%4d %8.3f [%5.3f-%5.3f] %8.3f [%5.3f-%5.3f] %7.4f %9.0f %9.0f %9.0f %8.0f"
                      t
                      (num s "ratio")
                      (num s "ratio_min")
                      (num s "ratio_max")
                      (num s "naive_ratio")
                      (num s "naive_ratio_min")
                      (num s "naive_ratio_max")
                      (num s "agree")
                      (num s "images_per_second")
                      (num s "naive_images_per_second")
                      (num s "ann_images_per_second")
                      (num s "peak_working_set_mb")

                  s ]

        let peak = runChild plan [ "--only"; "simpeak"; "--T"; "32" ]

        printfn
            "our simulator alone at T=32 on %d test images: peak working set %.0f MB, %.0f images/s"
            (int (num peak "images"))
            (num peak "peak_working_set_mb")
            (num peak "images_per_second")

        printfn ""
        let train = runChild plan [ "--only"; "train" ]

        printfn
            "training (%d batches of %d, same batches for each network, extrapolated to %d batches per epoch):"
            (int (num train "batches"))
            trainBatch
            (int (num train "batches_per_epoch"))

        printfn
            "  epoch ReLU %.1f s, clip %.1f s, noisy QC %.1f s; clip/ReLU %.3f [%.3f-%.3f], noisy-QC/ReLU %.3f [%.3f-%.3f]"
            (num train "relu_epoch_s")
            (num train "clip_epoch_s")
            (num train "noisy_qc_epoch_s")
            (num train "clip")
            (num train "clip_min")
            (num train "clip_max")
            (num train "noisy_qc")
            (num train "noisy_qc_min")
            (num train "noisy_qc_max")

        printfn
            "  data loading of one epoch %.1f s; %.0f training images/s (clip); peak working set %.0f MB"
            (num train "data_loading_epoch_s")
            (num train "images_per_second")
            (num train "peak_working_set_mb")

        printfn ""

        let resultsPath =
            args.GetResult(Results, Path.Combine("runs", "bench", "results.json"))

        let stagesPath =
            Path.Combine(Path.GetDirectoryName(Path.GetFullPath resultsPath), "stages")

        let recorded =
            phase2FromResults resultsPath
            |> Option.map (fun r -> r, resultsPath)
            |> Option.orElse (
                phase2FromStages stagesPath
                |> Option.map (fun r -> r, stagesPath + " (run not finished)")
            )

        let phase2Share, phase2Node, phase2Peak =
            match recorded with
            | Some((share, p1, p2), source) ->
                printfn
                    "phase2_share = %.3f (MEASURED by the pipeline: %s, Phase I %.0f s, Phase II %.0f s)"
                    share
                    source
                    p1
                    p2

                share,
                JsonObject(
                    dict
                        [ "source", JsonValue.Create source :> JsonNode
                          "phase1_seconds", JsonValue.Create p1
                          "phase2_seconds", JsonValue.Create p2 ]
                ),
                None
            | None ->
                let p = runChild plan [ "--only"; "phase2" ]
                let secs = p["phase2_seconds"].AsObject()

                printfn
                    "phase2_share = %.3f (ESTIMATED, no %s: Phase II measured at T=1, T=2,4 as T x that: %s s; one Phase-I epoch %.1f s x %d epochs)"
                    (num p "share")
                    resultsPath
                    (secs
                     |> Seq.map (fun kv -> $"{kv.Value.GetValue<float>():F1}")
                     |> String.concat " + ")
                    (num p "phase1_epoch_seconds")
                    (int (num p "phase1_epochs"))

                p["source"] <- JsonValue.Create "estimate"
                num p "share", p, Some(num p "peak_working_set_mb")

        let peaks =
            JsonObject(
                dict
                    [ yield!
                          sims
                          |> List.map (fun s ->
                              let t = int (num s "T")
                              $"sim_T{t}_with_naive", JsonValue.Create(num s "peak_working_set_mb") :> JsonNode)
                      "sim_T32", JsonValue.Create(num peak "peak_working_set_mb")
                      "train", JsonValue.Create(num train "peak_working_set_mb")
                      match phase2Peak with
                      | Some mb -> "phase2", JsonValue.Create mb
                      | None -> () ]
            )

        let simArray = JsonArray()

        for s in sims do
            simArray.Add(JsonNode.Parse(s.ToJsonString()))

        let bench =
            JsonObject(
                dict
                    [ "cores", JsonValue.Create cores :> JsonNode
                      "kernel_threads", JsonValue.Create kernelThreads
                      "malloc_tuned", JsonValue.Create Snn.Core.Native.NativeAllocator.Tuned
                      "batch", JsonValue.Create simBatch
                      "quick", JsonValue.Create quick
                      "repeats", JsonValue.Create plan.Repeats
                      "train_repeats", JsonValue.Create plan.TrainRepeats
                      "sim_processes", JsonValue.Create plan.SimProcesses
                      "network", JsonValue.Create sourceOfSimulation
                      "sim", simArray
                      "train_epoch_ratio",
                      JsonObject(
                          dict
                              [ "clip", JsonValue.Create(num train "clip") :> JsonNode
                                "noisy_qc", JsonValue.Create(num train "noisy_qc") ]
                      )
                      "train", JsonNode.Parse(train.ToJsonString())
                      "phase2_share", JsonValue.Create phase2Share
                      "phase2", JsonNode.Parse(phase2Node.ToJsonString())
                      "peak_working_set_mb", peaks
                      "wall_seconds", JsonValue.Create clock.Elapsed.TotalSeconds ]
            )

        let out = args.GetResult(Output, "bench.json")
        File.WriteAllText(out, bench.ToJsonString(JsonSerializerOptions(WriteIndented = true)))
        printfn ""

        printfn
            "targets: sim_ratio <= 1.0 for T >= 2 and <= naive_ratio; clip and noisy-QC epochs <= 1.15 x ReLU; phase2_share <= 0.25; peak at T=32 <= 3072 MB"

        let check name ok =
            printfn "  %-44s %s" name (if ok then "holds" else "DOES NOT HOLD")

        for s in sims do
            let t = int (num s "T")

            if t >= 2 then
                check $"sim_ratio(T={t}) <= 1.0" (num s "ratio" <= 1.0)

            check $"sim_ratio(T={t}) <= naive_ratio" (num s "ratio" <= num s "naive_ratio")

        check "clip epoch <= 1.15 x ReLU" (num train "clip" <= 1.15)
        check "noisy-QC epoch <= 1.15 x ReLU" (num train "noisy_qc" <= 1.15)
        check "phase2_share <= 0.25" (phase2Share <= 0.25)
        check "peak working set at T=32 <= 3072 MB" (num peak "peak_working_set_mb" <= 3072.0)
        printfn "wrote %s (%.0f s)" out clock.Elapsed.TotalSeconds
        0
