/// The training measurements: one training epoch of the ReLU, clip and noisy-QC networks timed
/// side by side (`--only train`), and a development profile of a training step
/// (`--only trainprofile`).
module Snn.Cli.Bench.Training

open System
open System.Diagnostics
open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Data
open Snn.Core.Training
open Snn.Dsl
open Snn.Cli
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure

let trainBatches (plan: Plan) (splits: DataSplits) =
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
let trainPass (model: CompiledNetwork) (optimizer: torch.optim.Optimizer) (batches: (torch.Tensor * torch.Tensor)[]) =
    let schedule = CosineSchedule(0.05, 1000000L)

    seconds (fun () ->
        let copies = batches |> Seq.map (fun (x, y) -> struct (x.clone (), y.clone ()))

        Trainer.TrainEpoch(model, optimizer, copies, schedule, 0L, 0L) |> ignore)


/// The three networks whose training steps are compared (same seeded initialisation), each with its optimizer.
let private trainingNetworks () =
    [ "relu", Relu; "clip", Clip 5.0; "noisy_qc", NoisyQC(4, 5.0, 0.1) ]
    |> List.map (fun (name, act) ->
        torch.manual_seed 0L |> ignore
        let m = compileOrFail act Presets.fmnistVgg
        name, m, sgd m)

let measureTrain (plan: Plan) : JsonObject =
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
        Interrupt.check ()
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
let trainProfile (plan: Plan) : JsonObject =
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
