module Snn.Core.Tests.Training.DistillationTests

open System
open Expecto
open TorchSharp
open Snn.Core.Training
open Snn.Core.Tests

let private logits (rows: float32[][]) =
    torch.tensor(Array.concat rows).reshape (int64 rows.Length, int64 rows[0].Length)

let private labels (ys: int64[]) = torch.tensor ys

let private value (t: torch.Tensor) = float (t.item<float32> ())

let private close = Tolerances.float32Loss

/// KL(p || q) = sum_k p_k (log p_k - log q_k) per row, averaged over rows, in float64 by hand.
let private klByHand (teacher: float[][]) (student: float[][]) (tau: float) =
    let softmax (z: float[]) =
        let m = Array.max z
        let e = z |> Array.map (fun v -> exp ((v - m) / tau))
        let s = Array.sum e
        e |> Array.map (fun v -> v / s)

    Array.map2
        (fun t s ->
            let p = softmax t
            let q = softmax s
            Array.fold2 (fun acc pk qk -> acc + pk * (log pk - log qk)) 0.0 p q)
        teacher
        student
    |> Array.average

let private toF32 (rows: float[][]) = rows |> Array.map (Array.map float32)

/// Linear(2 -> 3) with weights from a seeded System.Random (independent of torch's generator).
let private linear (seed: int) =
    let m = torch.nn.Linear(2L, 3L)
    let random = Random seed
    use _ = torch.no_grad ()

    for p in m.parameters () do
        let values =
            Array.init (int (p.numel ())) (fun _ -> float32 (random.NextDouble() - 0.5))

        use t = torch.tensor(values).reshape p.shape
        p.copy_ t |> ignore

    m

let private batches () =
    let random = Random 3

    [ for _ in 0..2 ->
          let x = Array.init 16 (fun _ -> float32 (random.NextDouble() * 2.0 - 1.0))
          let y = Array.init 8 (fun _ -> int64 (random.Next 3))
          struct (torch.tensor(x).reshape (8L, 2L), torch.tensor y) ]

let private weights (m: torch.nn.Module) =
    m.parameters ()
    |> Seq.collect (fun p -> p.detach().contiguous().data<float32>().ToArray())
    |> Seq.toArray

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Distillation"
        [ testCase "by hand: student (1, 0), teacher (0, 1), label 0, alpha 1/2, tau 2"
          <| fun () ->
              // CE = log(1 + e^-1). With logits that differ by d = 1/tau in opposite directions,
              // p = (sigma(-d), sigma(d)), q = (sigma(d), sigma(-d)) and KL(p || q) = d tanh(d / 2);
              // at tau = 2: KL = tanh(1/4) / 2, and the loss is CE / 2 + (1/2) 4 KL = CE / 2 + tanh(1/4).
              use s = logits [| [| 1.0f; 0.0f |] |]
              use t = logits [| [| 0.0f; 1.0f |] |]
              use y = labels [| 0L |]
              let expected = 0.5 * log (1.0 + exp -1.0) + tanh 0.25
              Expect.floatClose close (value (Distillation.Loss(s, t, y, 2.0, 0.5))) expected "the loss"
              // alpha = 1, tau = 1: KL alone, d = 1.
              Expect.floatClose close (value (Distillation.Loss(s, t, y, 1.0, 1.0))) (tanh 0.5) "KL at tau 1"

          testCase "alpha = 0 is plain cross-entropy, whatever the teacher and the temperature"
          <| fun () ->
              use s = logits [| [| 0.3f; -1.2f; 2.0f |]; [| 1.5f; 0.1f; -0.4f |] |]
              use t = logits [| [| 5.0f; 0.0f; -3.0f |]; [| -2.0f; 4.0f; 1.0f |] |]
              use y = labels [| 2L; 0L |]
              use ce = torch.nn.functional.cross_entropy (s, y)

              for tau in [ 0.5; 1.0; 4.0 ] do
                  Expect.floatClose close (value (Distillation.Loss(s, t, y, tau, 0.0))) (value ce) $"tau {tau}"

          testCase "alpha = 1, tau = 1 is KL(softmax(teacher) || softmax(student)), zero when they are equal"
          <| fun () ->
              let student = [| [| 0.3; -1.2; 2.0 |]; [| 1.5; 0.1; -0.4 |] |]
              let teacher = [| [| 5.0; 0.0; -3.0 |]; [| -2.0; 4.0; 1.0 |] |]
              use s = logits (toF32 student)
              use t = logits (toF32 teacher)
              use y = labels [| 2L; 0L |]

              Expect.floatClose close (value (Distillation.Loss(s, t, y, 1.0, 1.0))) (klByHand teacher student 1.0) "KL"

              Expect.floatClose
                  close
                  (value (Distillation.Loss(s, t, y, 3.0, 1.0)))
                  (9.0 * klByHand teacher student 3.0)
                  "tau^2 KL at tau 3"

              Expect.floatClose close (value (Distillation.Loss(s, s, y, 1.0, 1.0))) 0.0 "student = teacher"

          testCase "gradients reach the student's logits only, not the teacher's"
          <| fun () ->
              use s = (logits [| [| 0.3f; -1.2f; 2.0f |] |]).requires_grad_ true
              use t = (logits [| [| 5.0f; 0.0f; -3.0f |] |]).requires_grad_ true
              use y = labels [| 1L |]
              use loss = Distillation.Loss(s, t, y, 2.0, 0.7)
              loss.backward ()
              Expect.isNotNull s.grad "the student has a gradient"
              Expect.isNull t.grad "the teacher has none"

          testCase "trained with alpha = 0 the weights are exactly those of cross-entropy training"
          <| fun () ->
              use plain = linear 1
              use distilled = linear 1
              use teacher = linear 2
              use o1 = torch.optim.SGD(plain.parameters (), 0.1)
              use o2 = torch.optim.SGD(distilled.parameters (), 0.1)

              Trainer.TrainEpoch(plain, o1, batches (), ConstantSchedule 0.1, 0L, 1L)
              |> ignore

              Trainer.TrainEpoch(
                  distilled,
                  o2,
                  batches (),
                  ConstantSchedule 0.1,
                  0L,
                  1L,
                  loss = Distillation.Objective(teacher, 4.0, 0.0)
              )
              |> ignore

              Expect.equal (weights distilled) (weights plain) "same weights"

          testCase "the teacher runs in eval mode and never changes; with alpha = 1 the student moves towards it"
          <| fun () ->
              use student = linear 1
              use teacher = linear 2
              teacher.train ()
              let before = weights teacher
              use o = torch.optim.SGD(student.parameters (), 0.5)
              let objective = Distillation.Objective(teacher, 1.0, 1.0)

              let klNow () =
                  use _ = torch.no_grad ()

                  batches ()
                  |> List.averageBy (fun struct (x, y) ->
                      use l = objective.Invoke(x, student.forward x, y)
                      value l)

              let first = klNow ()

              for epoch in 0..19 do
                  Trainer.TrainEpoch(
                      student,
                      o,
                      batches (),
                      ConstantSchedule 0.5,
                      int64 (epoch * 3),
                      1L,
                      loss = objective
                  )
                  |> ignore

              Expect.isFalse teacher.training "eval mode"
              Expect.equal (weights teacher) before "the teacher's weights"
              Expect.isTrue (teacher.parameters () |> Seq.forall (fun p -> isNull p.grad)) "no gradient on the teacher"
              Expect.isLessThan (klNow ()) (first / 4.0) "KL to the teacher fell"

          testCase "a temperature <= 0 or an alpha outside [0, 1] is refused, naming the argument"
          <| fun () ->
              use s = logits [| [| 1.0f; 0.0f |] |]
              use y = labels [| 0L |]

              ArgumentChecks.argumentError "temperature" [ "0"; "> 0" ] (fun () ->
                  Distillation.Loss(s, s, y, 0.0, 0.5) |> ignore)

              ArgumentChecks.argumentError "alpha" [ "1.5"; "[0, 1]" ] (fun () ->
                  Distillation.Loss(s, s, y, 1.0, 1.5) |> ignore)

              use teacher = linear 1

              ArgumentChecks.argumentError "alpha" [ "-0.1"; "[0, 1]" ] (fun () ->
                  Distillation.Objective(teacher, 1.0, -0.1) |> ignore)

              use wide = logits [| [| 1.0f; 0.0f; 2.0f |] |]

              ArgumentChecks.argumentError "teacher" [ "[1, 3]"; "[1, 2]" ] (fun () ->
                  Distillation.Loss(s, wide, y, 1.0, 0.5) |> ignore) ]
