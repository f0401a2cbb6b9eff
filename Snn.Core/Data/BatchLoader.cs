using Snn.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Produces normalised float32 batches [B, C, H, W] and int64 labels [B] from an <see cref="ImageDataset"/>,
/// in memory or streamed (a streamed dataset's batches are decoded ahead on worker threads, see
/// <see cref="PrefetchDepth"/>; everything random is still drawn on the consumer's thread in batch order, so
/// streamed and in-memory loaders of the same images give identical batches). With shuffling, epoch e visits the images in a random permutation drawn from a
/// generator seeded by (seed, e); without it, in order. Augmentation (random crop with zero padding, horizontal
/// flip) is applied to the whole batch at once with two index gathers. Everything random is drawn from a
/// System.Random seeded by (seed, epoch), so the same seed and epoch give identical batches and different epochs
/// differ. The caller owns each yielded tensor pair and must dispose it (or let an enclosing dispose scope do it).
/// </summary>
public sealed class BatchLoader
{
    private readonly Normalization normalization;
    private readonly Augmentation augmentation;

    /// <summary>Creates a loader; nothing is copied, the dataset must outlive the loader.</summary>
    /// <param name="dataset">The images to load; C must equal the normalisation's channel count.</param>
    /// <param name="batchSize">Images per batch B, &gt;= 1; the last batch may be smaller unless <paramref name="dropLast"/>.</param>
    /// <param name="shuffle">true: a new seeded permutation per epoch (training); false: dataset order (evaluation).</param>
    /// <param name="normalization">Per-channel (p / 255 - mean) / std.</param>
    /// <param name="augmentation">Crop/flip augmentation, or null / <see cref="Augmentation.None"/> for none; padding in [0, min(H, W)].</param>
    /// <param name="seed">Seed of the shuffle and augmentation; any int.</param>
    /// <param name="dropLast">Whether to skip a final batch smaller than <paramref name="batchSize"/>.</param>
    public BatchLoader(
        ImageDataset dataset,
        int batchSize,
        bool shuffle,
        Normalization normalization,
        Augmentation? augmentation = null,
        int seed = 0,
        bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(normalization);
        Guard.AtLeast(batchSize, 1, nameof(batchSize), "batch size");
        normalization.Validate();
        if (normalization.Mean.Length != dataset.Channels)
        {
            throw new ArgumentException(
                $"{nameof(normalization)} has {normalization.Mean.Length} channels: expected {dataset.Channels} (the channels of {dataset.Name})",
                nameof(normalization));
        }

        augmentation ??= Augmentation.None;
        if (augmentation.Padding < 0 || augmentation.Padding > Math.Min(dataset.Height, dataset.Width))
        {
            throw new ArgumentException(
                $"{nameof(augmentation)}.Padding = {augmentation.Padding} is out of range: expected [0, {Math.Min(dataset.Height, dataset.Width)}]",
                nameof(augmentation));
        }

        if (dataset.IsStreamed)
        {
            PrefetchDepth = StreamingDepth(dataset, batchSize);
        }

        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        this.normalization = normalization;
        this.augmentation = augmentation;
    }

    /// <summary>The dataset read by this loader.</summary>
    public ImageDataset Dataset { get; }

    /// <summary>Images per batch B.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the images in a seeded random order.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed of shuffling and augmentation.</summary>
    public int Seed { get; }

    /// <summary>Whether a final partial batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>
    /// For a streamed dataset, how many uint8 batches are decoded ahead on worker threads (1 to
    /// <see cref="MaxPrefetch"/>, as many as the dataset's memory budget allows); 0 for an in-memory dataset.
    /// </summary>
    public int PrefetchDepth { get; }

    /// <summary>The most batches a streamed loader decodes ahead.</summary>
    public const int MaxPrefetch = 4;

    /// <summary>
    /// Memory, in uint8 batches, of making the batch being handed out: the gathered pixels, the padded and
    /// cropped copies of augmentation and the float32 result (4 bytes per pixel).
    /// </summary>
    public const int WorkingBatches = 8;

    /// <summary>Batches per epoch: ceil(N / B), or floor(N / B) with <see cref="DropLast"/>.</summary>
    public int BatchCount => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>: images float32 [B, C, H, W] normalised (and augmented),
    /// labels int64 [B]. Each pair is new and owned by the caller.
    /// </summary>
    /// <param name="epoch">Epoch number, &gt;= 0; mixed into the seed so epochs differ.</param>
    public IEnumerable<(Tensor Images, Tensor Labels)> Epoch(int epoch)
    {
        Guard.AtLeast(epoch, 0, nameof(epoch), "epoch number");
        return Batches(epoch);
    }

    /// <summary>The seed of epoch e's generator: a SplitMix64 mix of (seed, e), so nearby seeds and epochs are unrelated.</summary>
    /// <param name="seed">The loader seed.</param>
    /// <param name="epoch">The epoch number.</param>
    public static int EpochSeed(int seed, int epoch)
    {
        var z = ((ulong)(uint)seed << 32) | (uint)epoch;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    private IEnumerable<(Tensor Images, Tensor Labels)> Batches(int epoch)
    {
        var random = new Random(EpochSeed(Seed, epoch));
        var n = Dataset.Count;
        var order = new long[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        if (Shuffle)
        {
            random.Shuffle(order);
        }

        if (Dataset.IsStreamed)
        {
            using var prefetcher = new BatchPrefetcher(Dataset, order, BatchSize, BatchCount, PrefetchDepth);
            for (var b = 0; b < BatchCount; b++)
            {
                var start = b * BatchSize;
                var count = Math.Min(BatchSize, n - start);
                yield return MakeBatch(order.AsSpan(start, count), random, prefetcher.Take());
            }

            yield break;
        }

        for (var b = 0; b < BatchCount; b++)
        {
            var start = b * BatchSize;
            var count = Math.Min(BatchSize, n - start);
            yield return MakeBatch(order.AsSpan(start, count), random, null);
        }
    }

    /// <summary>
    /// Prefetch depth d of a streamed dataset: the largest d &lt;= MaxPrefetch with
    /// resident + (d + WorkingBatches) x B x C x H x W &lt;= budget.
    /// </summary>
    private static int StreamingDepth(ImageDataset dataset, int batchSize)
    {
        var budget = dataset.StreamingBudget!;
        var batchBytes = (long)batchSize * dataset.Channels * dataset.Height * dataset.Width;
        var free = budget.Bytes - dataset.StreamingResidentBytes - (WorkingBatches * batchBytes);
        var depth = (int)Math.Min(MaxPrefetch, free / batchBytes);
        if (depth < 1)
        {
            var needed = dataset.StreamingResidentBytes + ((WorkingBatches + 1) * batchBytes);
            throw new DataFileException(
                dataset.Name,
                $"cannot be streamed in batches of {batchSize} images of {dataset.Channels}x{dataset.Height}x{dataset.Width} within the data memory budget of " +
                $"{DataMemoryBudget.Format(budget.Bytes)} ({budget.Source}): that needs at least {DataMemoryBudget.Format(needed)} (file index and labels " +
                $"{DataMemoryBudget.Format(dataset.StreamingResidentBytes)}, one batch decoded ahead and {WorkingBatches} batches of working memory); " +
                $"raise the budget with the environment variable {DataMemoryBudget.EnvironmentVariable} or use smaller batches");
        }

        return depth;
    }

    private (Tensor Images, Tensor Labels) MakeBatch(ReadOnlySpan<long> indices, Random random, Tensor? streamed)
    {
        using var scope = NewDisposeScope();
        var count = indices.Length;
        var index = tensor(indices.ToArray(), [count]);
        // A streamed batch was made on a worker thread, outside every dispose scope: free it here.
        using var decoded = streamed;
        var pixels = streamed ?? (Shuffle ? Dataset.Images.index_select(0, index) : Dataset.Images.narrow(0, indices[0], count));
        var labels = Shuffle ? Dataset.Labels.index_select(0, index) : Dataset.Labels.narrow(0, indices[0], count).clone();
        if (!augmentation.IsIdentity)
        {
            pixels = Augment(pixels, random);
        }

        var images = normalization.Apply(pixels);
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Random crop after zero padding plus random flip, as two gathers over the whole batch.</summary>
    private Tensor Augment(Tensor pixels, Random random)
    {
        var (b, h, w, p) = (pixels.shape[0], pixels.shape[2], pixels.shape[3], augmentation.Padding);
        var dy = new long[b];
        var dx = new long[b];
        var flip = new bool[b];
        for (var i = 0; i < b; i++)
        {
            dy[i] = random.Next(2 * p + 1);
            dx[i] = random.Next(2 * p + 1);
            flip[i] = augmentation.HorizontalFlip && random.Next(2) == 1;
        }

        var c = pixels.shape[1];
        var padded = p > 0 ? nn.functional.pad(pixels, [p, p, p, p], TorchSharp.PaddingModes.Constant, 0) : pixels;

        // Rows: out[b, c, i, :] = padded[b, c, dy[b] + i, :].
        var rows = tensor(dy, [b, 1, 1, 1]).add(arange(h, ScalarType.Int64).view(1, 1, h, 1), Scalars.One);
        var cropped = padded.gather(2, rows.expand(b, c, h, w + (2 * p)));

        // Columns: out[b, c, i, j] = cropped[b, c, i, dx[b] + j'] with j' = W - 1 - j when flipped, else j.
        var j = arange(w, ScalarType.Int64).view(1, 1, 1, w);
        using var last = (w - 1).ToScalar();
        var mirrored = where(tensor(flip, [b, 1, 1, 1]), j.neg().add_(last), j);
        var cols = tensor(dx, [b, 1, 1, 1]).add(mirrored, Scalars.One);
        return cropped.gather(3, cols.expand(b, c, h, w));
    }
}
