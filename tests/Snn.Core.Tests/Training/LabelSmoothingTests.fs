module Snn.Core.Tests.Training.LabelSmoothingTests

open System
open Expecto
open TorchSharp
open Snn.Core.Training
open Snn.Core.Tests

let private close = Tolerances.float32Loss

/// -(1/B) sum_i sum_k q_ik log softmax(s_i)_k with q = (1 - eps) onehot + eps / K, in float64 by hand.
let private byHand (rows: float[][]) (ys: int[]) (eps: float) =
    Array.map2
        (fun (s: float[]) y ->
            let m = Array.max s
            let logZ = m + log (s |> Array.sumBy (fun v -> exp (v - m)))
            let k = float s.Length

            s
            |> Array.mapi (fun j v ->
                let q = (if j = y then 1.0 - eps else 0.0) + eps / k
                -q * (v - logZ))
            |> Array.sum)
        rows
        ys
    |> Array.average

let private loss (rows: float[][]) (ys: int[]) eps =
    use s =
        torch.tensor(rows |> Array.concat |> Array.map float32).reshape (int64 rows.Length, int64 rows[0].Length)

    use y = torch.tensor (ys |> Array.map int64)
    use l = LabelSmoothing.Loss(s, y, eps)
    float (l.item<float32> ())

[<Tests>]
let tests =
    testList
        "LabelSmoothing"
        [ test "eps = 0 is torch's cross-entropy" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(5UL)
              let s = torch.randn (6L, 4L, generator = g)
              let y = torch.tensor [| 0L; 3L; 1L; 2L; 2L; 0L |]

              Expect.floatClose
                  close
                  (float (LabelSmoothing.Loss(s, y, 0.0).item<float32> ()))
                  (float (torch.nn.functional.cross_entropy(s, y).item<float32> ()))
                  "the same loss"
          }

          test "two classes, logits (0, ln 3), label 1, eps 0.2: q = (0.1, 0.9), L = -0.1 ln 1/4 - 0.9 ln 3/4" {
              let expected = -0.1 * log 0.25 - 0.9 * log 0.75
              Expect.floatClose close (loss [| [| 0.0; log 3.0 |] |] [| 1 |] 0.2) expected "by hand"
          }

          testProperty "equals the cross-entropy against the smoothed target, computed in float64"
          <| fun (seed: int) ->
              let random = Random seed
              let k = 2 + random.Next 8

              let rows =
                  Array.init 5 (fun _ -> Array.init k (fun _ -> random.NextDouble() * 8.0 - 4.0))

              let ys = Array.init 5 (fun _ -> random.Next k)
              let eps = random.NextDouble() * 0.99
              Expect.floatClose close (loss rows ys eps) (byHand rows ys eps) $"K = {k}, eps = {eps}"

          test "eps outside [0, 1) is refused naming epsilon" {
              for eps in [ -0.1; 1.0; nan ] do
                  Expect.throwsC (fun () -> LabelSmoothing.Objective eps |> ignore) (fun e ->
                      Expect.stringContains e.Message "epsilon" $"eps = {eps}")
          } ]
