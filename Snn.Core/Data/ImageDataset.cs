using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// A whole image dataset held in memory: raw pixels as uint8 [N, C, H, W] (0..255, channel-first)
/// and class labels as int64 [N] with values in [0, Classes). Owns both tensors; dispose it to free them.
/// </summary>
public sealed class ImageDataset : IDisposable
{
    /// <summary>Wraps tensors into a dataset after checking their shapes, types and label range.</summary>
    /// <param name="name">A human-readable name, e.g. "fashion-mnist/train".</param>
    /// <param name="images">uint8 [N, C, H, W], N &gt;= 0, C, H, W &gt;= 1; ownership passes to the dataset.</param>
    /// <param name="labels">int64 [N], every value in [0, classes); ownership passes to the dataset.</param>
    /// <param name="classNames">One name per class; its length is the class count K &gt;= 1.</param>
    public ImageDataset(string name, Tensor images, Tensor labels, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (images.dtype != ScalarType.Byte || images.dim() != 4)
        {
            throw new ArgumentException(
                $"{nameof(images)} is {images.dtype} [{string.Join(", ", images.shape)}]: expected uint8 [N, C, H, W]",
                nameof(images));
        }

        if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != images.shape[0])
        {
            throw new ArgumentException(
                $"{nameof(labels)} is {labels.dtype} [{string.Join(", ", labels.shape)}]: expected int64 [{images.shape[0]}]",
                nameof(labels));
        }

        Guard.AtLeast(classNames.Count, 1, nameof(classNames), "number of classes");
        if (labels.numel() > 0)
        {
            using var min = labels.min();
            using var max = labels.max();
            var lo = min.item<long>();
            var hi = max.item<long>();
            if (lo < 0 || hi >= classNames.Count)
            {
                throw new ArgumentException(
                    $"{nameof(labels)} has values in [{lo}, {hi}]: expected [0, {classNames.Count - 1}]",
                    nameof(labels));
            }
        }

        Name = name;
        Images = images;
        Labels = labels;
        ClassNames = classNames.ToArray();
    }

    /// <summary>A human-readable name, e.g. "fashion-mnist/train".</summary>
    public string Name { get; }

    /// <summary>Raw pixels, uint8 [N, C, H, W], values 0..255.</summary>
    public Tensor Images { get; }

    /// <summary>Class labels, int64 [N], values in [0, <see cref="Classes"/>).</summary>
    public Tensor Labels { get; }

    /// <summary>The class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The number of classes K &gt;= 1.</summary>
    public int Classes => ClassNames.Count;

    /// <summary>The number of images N &gt;= 0.</summary>
    public int Count => (int)Images.shape[0];

    /// <summary>Channels C (1 for greyscale, 3 for RGB).</summary>
    public int Channels => (int)Images.shape[1];

    /// <summary>Image height H in pixels.</summary>
    public int Height => (int)Images.shape[2];

    /// <summary>Image width W in pixels.</summary>
    public int Width => (int)Images.shape[3];

    /// <summary>
    /// The images [start, start + count) as a new dataset that shares storage with this one (no copy);
    /// dispose it separately. Used for the train / held-out split and for calibration subsets.
    /// </summary>
    /// <param name="start">First image index, in [0, N].</param>
    /// <param name="count">Number of images, in [0, N - start].</param>
    /// <param name="name">Name of the subset; defaults to "&lt;name&gt;[start..start+count)".</param>
    public ImageDataset Subset(int start, int count, string? name = null)
    {
        if (start < 0 || start > Count)
        {
            throw new ArgumentException($"{nameof(start)} = {start} is out of range: expected [0, {Count}]", nameof(start));
        }

        if (count < 0 || count > Count - start)
        {
            throw new ArgumentException(
                $"{nameof(count)} = {count} is out of range: expected [0, {Count - start}] for start = {start}",
                nameof(count));
        }

        return new ImageDataset(
            name ?? $"{Name}[{start}..{start + count})",
            Images.narrow(0, start, count),
            Labels.narrow(0, start, count),
            ClassNames);
    }

    /// <summary>Images per class: entry k is the number of labels equal to k, k in [0, K).</summary>
    public long[] ClassCounts()
    {
        using var counts = Labels.bincount(null, Classes);
        return counts.data<long>().ToArray();
    }

    /// <summary>Frees the image and label tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
