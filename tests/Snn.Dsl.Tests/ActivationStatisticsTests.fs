module Snn.Dsl.Tests.ActivationStatisticsTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Snn.Dsl
open Snn.Dsl.ActivationStatistics

/// The exact nearest-rank percentile of the positive values: the ceil(p/100 n)-th smallest.
let private exact (p: float) (values: float32[]) =
    let positive = values |> Array.filter (fun v -> v > 0.0f) |> Array.sort

    if positive.Length = 0 then
        nan
    else
        let rank = max 1 (int (Math.Ceiling(p / 100.0 * float positive.Length)))
        float positive[rank - 1]

let private histogramOf (values: float32[]) =
    let h = Histogram()
    use t = torch.tensor values
    h.Add t
    h

/// Values spread over many octaves, with zeros and negatives.
let private values =
    gen {
        let! n = Gen.choose (1, 3000)
        let! seed = Gen.choose (0, Int32.MaxValue)
        let random = Random(seed)

        return
            Array.init n (fun _ ->
                match random.Next 4 with
                | 0 -> 0.0f
                | 1 -> -float32(random.NextDouble())
                | _ -> float32 (Math.Pow(2.0, 24.0 * random.NextDouble() - 12.0)))
    }

let private percentilesGen =
    Gen.elements [ 0.1; 50.0; 90.0; 99.0; 99.9; 99.99; 100.0 ]

[<Tests>]
let tests =
    testList
        "ActivationStatistics"
        [ testProperty "the histogram's percentile lies between the exact nearest-rank percentile and one bin above it"
          <| Prop.forAll (Arb.fromGen (Gen.zip values percentilesGen)) (fun (xs, p) ->
              let got = (histogramOf xs).Percentile p
              let want = exact p xs

              if Double.IsNaN want then
                  Double.IsNaN got
              else
                  got >= want && got <= want * binRatio)

          test "the 100th percentile is the largest value exactly; counts are of all and of positive values" {
              let h = histogramOf [| -3.0f; 0.0f; 0.25f; 7.5f; 2.0f |]
              Expect.equal (h.Percentile 100.0) 7.5 "max"
              Expect.equal h.Count 5L "all values"
              Expect.equal h.Positive 3L "positive values"
              Expect.equal h.Max 7.5 "max"
          }

          test "values added in several batches count as one set" {
              let xs = Array.init 1000 (fun i -> float32 (i + 1) / 100.0f)
              let whole = histogramOf xs
              let parts = Histogram()

              for chunk in Array.chunkBySize 97 xs do
                  use t = torch.tensor chunk
                  parts.Add t

              for p in [ 1.0; 50.0; 99.9 ] do
                  Expect.equal (parts.Percentile p) (whole.Percentile p) $"p = {p}"
          }

          test "no positive value gives NaN; a percentile outside (0, 100] is refused with its value" {
              Expect.isTrue (Double.IsNaN((histogramOf [| 0.0f; -1.0f |]).Percentile 99.9)) "NaN"

              for p in [ 0.0; -1.0; 100.5; nan ] do
                  Expect.throwsT<ArgumentException>
                      (fun () -> (histogramOf [| 1.0f |]).Percentile p |> ignore)
                      $"p = {p}"

              let e =
                  try
                      (histogramOf [| 1.0f |]).Percentile 101.0 |> ignore
                      ""
                  with :? ArgumentException as e ->
                      e.Message

              Expect.stringContains e "percentile = 101 is out of range: expected (0, 100]" "message"
          }

          test "percentiles of a network: each activation's pre-activations, later layers fed through the activations" {
              torch.manual_seed 3L |> ignore

              let spec =
                  network (Image(1, 8, 8)) [ conv 3; bn; act; avgPool 2; conv 2; act; flatten; linear 4; act; linear 2 ]

              use net =
                  match Compile.compile (Clip 0.7) spec with
                  | Ok n -> n
                  | Error es -> failwithf "%A" es

              net.eval ()
              use images = torch.randn (20L, 1L, 8L, 8L)
              let batches = [ images.narrow (0, 0L, 7L); images.narrow (0, 7L, 13L) ]
              let stats = percentiles net 99.0 batches

              // The same pre-activations gathered directly, batch by batch.
              let gathered = Collections.Generic.Dictionary<string, float32[]>()
              use _ = torch.no_grad ()

              for x in batches do
                  Convert.forwardThroughActivations
                      net
                      (fun l z ->
                          let values = z.contiguous().data<float32>().ToArray()

                          gathered[l.Name] <-
                              match gathered.TryGetValue l.Name with
                              | true, earlier -> Array.append earlier values
                              | _ -> values

                          l.Module.forward z)
                      x
                  |> ignore

              Expect.equal (stats |> List.map _.Layer) [ "act1"; "act2"; "act3" ] "every activation, in order"

              for s in stats do
                  let xs = gathered[s.Layer]
                  let want = exact 99.0 xs
                  Expect.equal s.Count (int64 xs.Length) $"{s.Layer}: count"
                  Expect.equal s.Positive (xs |> Array.filter (fun v -> v > 0.0f) |> Array.length |> int64) "positive"
                  Expect.equal s.Max (float (Array.max xs)) $"{s.Layer}: max"

                  Expect.isTrue
                      (s.Percentile >= want && s.Percentile <= want * binRatio)
                      $"{s.Layer}: {s.Percentile} against exact {want}"
          } ]
