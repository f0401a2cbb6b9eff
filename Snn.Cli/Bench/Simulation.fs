/// The simulation measurements: our simulator, the naive loop and the ANN timed side by side at
/// one T (`--only sim`), our simulator's peak working set alone (`--only simpeak`), and a
/// development profile of both (`--only profile`).
module Snn.Cli.Bench.Simulation

open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Simulation
open Snn.Dsl
open Snn.Cli
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure

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


/// Test batches timed at T: fewer for long runs, so that every T costs about the same.
let private simBatchesAt (plan: Plan) t =
    if plan.Quick then 1
    elif t <= 4 then plan.SimBatches
    elif t <= 8 then max 1 (plan.SimBatches / 2)
    else max 1 (plan.SimBatches / 4)

let measureSim (plan: Plan) (t: int) : JsonObject =
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
        Interrupt.check ()
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
let measureSimPeak (plan: Plan) (t: int) : JsonObject =
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
let profile (plan: Plan) (t: int) : JsonObject =
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
