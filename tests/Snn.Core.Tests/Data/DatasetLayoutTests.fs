module Snn.Core.Tests.Data.DatasetLayoutTests

open System.Globalization
open Expecto
open Snn.Core.Data

[<Tests>]
let tests =
    testList
        "DatasetLayout"
        [ testProperty "the in-memory estimate is (N_train + N_test) x (C H W + 9) bytes"
          <| fun (train: uint16) (test: uint16) (c: byte) (h: byte) (w: byte) ->
              let c, h, w = 1 + int c % 3, 1 + int h, 1 + int w
              let layout = DatasetLayout("f", int train, int test, c, h, w, [ "a" ])
              layout.InMemoryBytes = (int64 train + int64 test) * (int64 (c * h * w) + 9L)

          testCase "Fashion-MNIST's 70,000 images of 1x28x28 need about 55 MB"
          <| fun () ->
              let layout =
                  DatasetLayout("f", 60000, 10000, 1, 28, 28, [ for i in 0..9 -> string i ])

              Expect.equal layout.InMemoryBytes (70000L * 793L) "70,000 x (784 + 9)"
              Expect.equal (string layout) "60,000 training + 10,000 test images of 1x28x28, 10 classes" "text"

          testCase "its text reads the same under a German locale, which writes 60.000"
          <| fun () ->
              let layout = DatasetLayout("f", 60000, 10000, 1, 28, 28, [ "a" ])
              let before = CultureInfo.CurrentCulture
              CultureInfo.CurrentCulture <- CultureInfo.GetCultureInfo "de-DE"

              try
                  Expect.stringStarts (layout.ToString()) "60,000 training + 10,000 test" "invariant"
              finally
                  CultureInfo.CurrentCulture <- before ]
