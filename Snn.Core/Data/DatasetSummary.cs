using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>Counts and pixel statistics of one dataset.</summary>
/// <param name="Name">The dataset's name.</param>
/// <param name="Count">Number of images N.</param>
/// <param name="Shape">Image shape [C, H, W].</param>
/// <param name="ClassCounts">Images per class, indexed by label.</param>
/// <param name="PixelMean">Per-channel mean of p / 255 over all images and pixels, in [0, 1].</param>
/// <param name="PixelStd">Per-channel population standard deviation of p / 255, in [0, 0.5].</param>
public sealed record SplitSummary(string Name, int Count, long[] Shape, long[] ClassCounts, double[] PixelMean, double[] PixelStd);

/// <summary>A summary of all splits of a dataset, as printed by `snn data`.</summary>
/// <param name="Dataset">The dataset's name (<see cref="DatasetDescriptor.Name"/>).</param>
/// <param name="Folder">Where the data was read from.</param>
/// <param name="ClassNames">The class names, indexed by label.</param>
/// <param name="FullTrain">All images of the training files.</param>
/// <param name="Train">The training split.</param>
/// <param name="HeldOut">The held-out split.</param>
/// <param name="Test">The test split.</param>
public sealed record DatasetSummary(
    string Dataset, string Folder, IReadOnlyList<string> ClassNames,
    SplitSummary FullTrain, SplitSummary Train, SplitSummary HeldOut, SplitSummary Test)
{
    /// <summary>Summarises every split of <paramref name="splits"/>.</summary>
    /// <param name="splits">The loaded splits.</param>
    public static DatasetSummary Compute(DataSplits splits)
    {
        ArgumentNullException.ThrowIfNull(splits);
        return new DatasetSummary(
            splits.Dataset.Name, splits.Folder, splits.FullTrain.ClassNames,
            Of(splits.FullTrain), Of(splits.Train), Of(splits.HeldOut), Of(splits.Test));
    }

    /// <summary>
    /// Counts and statistics of one dataset: mean_c = sum(p / 255) / (N H W) and
    /// std_c = sqrt(sum((p / 255)^2) / (N H W) - mean_c^2), accumulated in float64 over chunks of at most
    /// 4,096 images and 8 MB of pixels (so a streamed dataset is never read whole).
    /// </summary>
    /// <param name="dataset">The dataset; an empty one gives NaN statistics.</param>
    public static SplitSummary Of(ImageDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var c = dataset.Channels;
        var sum = new double[c];
        var sumSq = new double[c];
        // Chunks of at most 4,096 images and 8 MB of pixels (64 MB as float64, twice that with the squares),
        // read from memory or decoded from disk for a streamed dataset.
        var chunk = (int)Math.Clamp((8L << 20) / (c * (long)dataset.Height * dataset.Width), 1, 4096);
        for (var start = 0; start < dataset.Count; start += chunk)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(chunk, dataset.Count - start);
            var pixels = dataset.IsStreamed
                ? dataset.ReadImages(Enumerable.Range(start, count).Select(i => (long)i).ToArray())
                : dataset.Images.narrow(0, start, count);
            var x = pixels.to_type(ScalarType.Float64);
            var s = x.sum([0, 2, 3]).data<double>().ToArray();
            var q = x.square().sum([0, 2, 3]).data<double>().ToArray();
            for (var k = 0; k < c; k++)
            {
                sum[k] += s[k];
                sumSq[k] += q[k];
            }
        }

        var n = (double)dataset.Count * dataset.Height * dataset.Width;
        var mean = sum.Select(s => s / n / 255).ToArray();
        var std = sumSq.Select((q, k) => Math.Sqrt(Math.Max(0, (q / n / (255.0 * 255)) - (mean[k] * mean[k])))).ToArray();
        return new SplitSummary(dataset.Name, dataset.Count, dataset.ImageShape, dataset.ClassCounts(), mean, std);
    }
}
