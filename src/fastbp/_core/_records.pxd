# The records the core's kernels pass around, so that a kernel's signature names roles, not runs of pointers.
#
# A struct cannot hold a fused type: arrays of the model's float type are `void*` here and each kernel, itself
# a fused function, casts them to its `floating*`. `const` marks what a kernel only reads; a field a kernel
# writes says so in its comment (OUT), and one it reads and writes (IN-OUT).

from libc.stdint cimport int32_t

from fastbp._core._activations cimport Activation
from fastbp._core._losses cimport LossSpec, Output
from fastbp._core._masks cimport MaskBlock
from fastbp._core._optim cimport Rule, State, Step


cdef enum Role:
    # What a block of the parameter buffer is (`fastbp.layout.ROLES`, in that order).
    WEIGHT = 0
    BIAS = 1
    IN_SCALE = 2
    OUT_SCALE = 3
    CATEGORY_WEIGHT = 4
    CATEGORY_SCALE = 5
    EMBEDDING_WEIGHT = 6
    EMBEDDING_BIAS = 7
    LINEAR_WEIGHT = 8
    LINEAR_BIAS = 9
    FREQUENCIES = 10


cdef enum Embedding:
    # How the numeric columns reach the first layer (`fastbp.embeddings`).
    NO_EMBEDDING = 0
    PIECEWISE_LINEAR = 1
    PERIODIC = 2


cdef struct Block:
    # One array of the model, params[offset:][:size], with what training does to it (`fastbp.layout.Block`).
    Role role
    int layer                   # the stage it belongs to: its layer, or -1 for the first layer's inputs
    Py_ssize_t offset
    Py_ssize_t size
    bint penalized              # the L2 penalty covers it
    bint decayed                # an optimizer's decoupled weight decay shrinks it


cdef struct Layer:
    # One row of a network's per-layer table, which `_network.CoreNet` owns. Layer l maps n_in units to n_out
    # for each of its `members` (k; 1: a plain layer); its arrays are blocks of the one flat parameter buffer.
    # A layer of k members reads and writes rows of k n_in and k n_out units, member after member (`_members`).
    int n_in
    int n_out
    int members
    bint shared_input           # its input rows are the same for every member (X: n_in units, not k n_in)
    bint weight_per_member      # W is (k, n_in, n_out), one per member, not (n_in, n_out) shared
    bint bias_per_member        # b is (k, n_out), not (n_out,)
    const Block* weight         # W[l]: row-major (n_in, n_out), or (k, n_in, n_out)
    const Block* bias           # b[l]: (n_out,), or (k, n_out)
    const Block* in_scale       # r (k, n_in): member m's input is multiplied by r[m] first; NULL: none
    const Block* out_scale      # s (k, n_out): member m's product is multiplied by s[m]; NULL: none
    Activation activation        # f of the layer's units (IDENTITY for the output layer: `Layout.output` applies)
    double dropout               # the dropout rate of a hidden layer's units in training passes (0: none)
    # The first layer of a network with categorical columns: W's and r's rows for their one-hot units, which it
    # reads as a lookup (`_inputs`); NULL otherwise.
    const Block* category_weight    # (n_categories, n_out), or (k, n_categories, n_out) where W is per member
    const Block* category_scale     # (k, n_categories) where the layer has r, else NULL


cdef struct Inputs:
    # What the first layer reads from a row of X when it is more than the row (`fastbp.layout.Inputs`): the
    # first n_numeric columns through an embedding (or as they are), then n_categorical integer codes.
    bint active                 # False: the first layer reads X itself
    int n_columns               # X's width
    int n_numeric
    int width                   # the first layer's dense input: n_numeric d (an embedding's) or n_numeric
    Embedding embedding
    int d                       # d_embedding
    int n_bins                  # piecewise linear: B, the most bins of a feature; periodic: 2 m (cos and sin)
    bint activation             # a ReLU after the embedding's linear map
    bint lite                   # periodic: one linear map shared by the features
    const double* encoding_weight   # piecewise linear: the fixed encoding (n_numeric, B), weight and bias
    const double* encoding_bias
    const Block* weight         # embedding_weight: (n_numeric, B or 2m, d), or lite (2m, d)
    const Block* bias           # embedding_bias: (n_numeric, d), or lite (d,); NULL for piecewise linear
    const Block* linear_weight  # piecewise linear: (n_numeric, d) each
    const Block* linear_bias
    const Block* frequencies    # periodic: (n_numeric, m)
    int n_categorical
    const int* category_offset  # (n_categorical + 1,): column j's one-hot units are category rows offset[j]..[j+1]


cdef enum StageKind:
    # What a stage of the network computes; each kind has its forward and backward kernels (`_network`'s
    # `stage_forward` and `stage_backward` dispatch on it).
    INPUTS_STAGE = 0            # the first layer's inputs: numeric embeddings and categorical codes (`_inputs`)
    DENSE_STAGE = 1             # a plain layer (the first reads a CSR batch through `_sparse`'s products)
    MEMBERS_STAGE = 2           # a layer of k members (`_members`)


cdef struct Stage:
    # One row of the network's stage table, in forward order.
    StageKind kind
    int layer                   # its layer in Layout.layers, or -1 for the inputs: its blocks' `layer`


cdef struct Layout:
    # A network: its parameter blocks (in buffer order, as `fastbp.layout` decides them), its stages and layers
    # in order, its output activation and loss, and the flat buffer's size.
    int n_blocks
    Block* blocks               # (n_blocks,)
    int n_stages
    Stage* stages               # (n_stages,): the inputs when active, then one stage per layer
    int n_layers
    Layer* layers               # (n_layers,)
    Output output
    LossSpec loss
    int members                 # k of the output layer: the network is an ensemble of k members (1: a plain one)
    Py_ssize_t n_params
    Py_ssize_t macs_per_row     # multiply-adds of one row through every layer
    int width                   # units of the widest non-input layer (the scratch of one row)
    Inputs inputs
    int n_columns               # X's width: inputs.n_columns, or the first layer's n_in


cdef struct Threads:
    # How the passes use threads (see `_network.thread_plan`).
    int n                       # threads to use
    bint invariant              # fixed blocks: results independent of n
    Py_ssize_t min_work         # default blocks: multiply-adds each thread must get for threads to pay


cdef struct Split:
    # How one product is cut: `count` blocks of `size` rows or columns of its output, on threads if `threaded`.
    Py_ssize_t count
    Py_ssize_t size
    bint by_columns
    bint threaded


cdef struct SparseRows:
    # Rows of a CSR matrix as the first layer reads them, in place: the batch's row r is the matrix's row
    # rows[r], or row offset + r when rows is NULL (so a shuffled minibatch is its rows' numbers, not a copy).
    # Row i holds data[indptr[i]:indptr[i + 1]] in the columns indices[indptr[i]:indptr[i + 1]], in any
    # order; duplicates add up, as in the dense matrix they stand for.
    const void* data        # the model's float type
    const void* indices     # int32, or int64 when `wide`
    const void* indptr      # the same type as indices
    bint wide
    const Py_ssize_t* rows
    Py_ssize_t offset
    # The weight gradient's scratch (see `_sparse.Scratch`), where it regroups the batch's entries by column:
    Py_ssize_t* column_start    # (n_in + 1,)
    int32_t* entry_row          # (entries of the batch,)
    void* entry_value           # (entries of the batch,) the model's float type


cdef struct Batch:
    # The rows a pass reads (IN): a minibatch, or a whole call's data.
    Py_ssize_t n_rows
    const void* X               # (n_rows, n_features), or NULL when X_sparse holds the rows
    const SparseRows* X_sparse  # the rows as CSR (with a `_sparse.Scratch` attached for a backward pass), or NULL
    const void* Y               # (n_rows, n_outputs) targets, or NULL for a forward pass alone
    const void* sample_weight   # (n_rows,), or NULL for unit weights
    double weight_sum           # S, which divides the weighted sum of the rows' losses (their own sum of
                                # weights, or a larger total: data-parallel training passes every rank's)


cdef struct Workspace:
    # The scratch of a pass over `Batch.n_rows` rows, allocated by the caller and reused.
    void** acts                 # (n_layers,): acts[l] is (n_rows, n_out of layer l), OUT; the last holds the logits
    void** factor               # (n_layers,) or NULL (a pass with no backward): factor[l] is (n_rows, n_out), OUT,
                                # for the layers whose f' needs z or that drop units in this pass, else NULL
    bint dropped                # whether the last forward pass was a training pass with dropout (its masks)
    void* delta_a               # (n_rows * width,) each: the back-propagated deltas, ping-pong
    void* delta_b
    double* row_loss            # (n_rows * members,) the rows' losses, each member's
    # Only for layers of several members (NULL entries, or NULL, otherwise):
    void** inputs               # (n_layers,): inputs[l] (n_rows, k n_in) is layer l's input times r (or X once per
                                # member), where the layer needs it (`_members.needs_input`), OUT
    void** products             # (n_layers,) or NULL (a pass with no backward): products[l] (n_rows, k n_out) is
                                # the product before s, for the layers with s, OUT
    void* member_targets        # (n_rows * k, n_outputs): each row's targets once per member, scratch
    void* member_weights        # (n_rows * k,): each row's sample weight once per member, scratch
    # Only for a network with inputs (NULL otherwise):
    void* encoded               # (n_rows, inputs.width): the first layer's dense input, OUT of the forward pass
    int* codes                  # (n_rows, n_categorical): each code's row of the category blocks (its column's
                                # offset plus the code), -1 where unknown, OUT
    void* features              # (n_rows, n_numeric B or n_numeric 2m): the encoding, or cos and sin, OUT
    void* pre_relu              # (n_rows, width): the embedding before its ReLU (with activation), OUT
    void* encoded_delta         # (n_rows, width): dL/d(encoded), a backward pass's scratch (with an embedding)
    void* feature_delta         # (n_rows, n_numeric 2m): periodic, dL/d(cos and sin), scratch


cdef struct Dropout:
    # The dropout of a training pass (IN): the fit's seed and the optimizer's step, which with each layer, row
    # and unit key its masks (`_masks`).
    unsigned long long seed
    unsigned long long step


cdef enum GradientMode:
    # What the backward pass does with the weights' gradient.
    STORE_GRADIENT = 0          # write it, with the intercepts', into the gradient buffer
    STEP_COEFFICIENTS = 1       # plain SGD fused into the products: W[l] += -rate dW[l] in place (BLAS with
                                # beta = 1); only the intercepts' gradient is written (one pass fewer over W)
    STEP_LAYERS = 2             # any other optimizer: each layer's parameters take their step as soon as its
                                # gradient is written, while that is in cache (not in a pass after backward)


cdef struct Deltas:
    # The backward pass's ping-pong buffers of deltas (Workspace.delta_a and delta_b, the model's float type):
    # `delta` holds dL/dZ of the stage at hand, `other` gets the one before's (IN-OUT: swapped as the pass goes).
    void* delta
    void* other


cdef struct Update:
    # The optimizer's step of STEP_LAYERS (IN; its state IN-OUT).
    const Rule* rule
    const Step* step
    State* state


cdef struct Backward:
    # How the backward pass ends (IN).
    double alpha                # the L2 penalty
    GradientMode mode
    double rate                 # the learning rate of STEP_COEFFICIENTS
    const Update* update        # the step of STEP_LAYERS


cdef struct Pass:
    # What every stage of one pass over a batch shares (IN; the workspace OUT), besides the parameters.
    const Layout* net
    const Batch* batch
    Workspace* work
    Threads threads
    Py_ssize_t work_done        # multiply-adds of the whole pass (which `_splits` weighs each product's against)
    const Dropout* dropout      # forward: a training pass's dropout, or NULL
    Backward how                # backward: how it ends


cdef struct LayerPass:
    # One layer of a pass: what the blocks that threads take of its products share (IN). Each block kernel
    # takes its outputs as arguments of its own.
    const Layer* layer
    Py_ssize_t n_rows
    const void* a_in            # (n_rows, n_in): X or the previous layer's activations
    const void* W               # (n_in, n_out) the layer's coefficients (or (k, n_in, n_out))
    const void* b               # (n_out,) its intercepts (or (k, n_out))
    const void* r               # (k, n_in) its in_scale, or NULL
    const void* s               # (k, n_out) its out_scale, or NULL
    void* u                     # (n_rows, k n_in) its input times r (`Workspace.inputs`; forward: OUT), or NULL
    void* product               # (n_rows, k n_out) its product before s (`Workspace.products`; forward: OUT), or NULL
    MaskBlock mask              # forward: the layer's dropout (inactive: none); each block sets its first row and column
    const int* codes            # the first layer with categorical columns: Workspace.codes, else NULL
    const Inputs* inputs        # with codes: the network's inputs (their offsets)
    const void* Wc              # with codes: the layer's category_weight, and its category_scale (or NULL)
    const void* rc
    const void* delta           # backward: (n_rows, n_out) dL/dZ of this layer
    Activation f_in             # backward: the activation of the layer before, whose f' multiplies its delta
    const void* factor_in       # backward: that layer's factor (its f' and dropout), or NULL: f_in's f' of a_in
    double kept_scale_in        # backward, without factor_in: that layer's dropout scale 1 / (1 - rate) in a pass
                                # that dropped its units (ReLU's factor, from a_in: `mul_derivative`), else 1
    bint penalty                # backward: the L2 penalty applies (alpha != 0 and W is penalized)
    double alpha_scaled         # backward: alpha / S, the penalty's factor on W
    GradientMode mode           # backward: what becomes of the weights' gradient
    double rate                 # backward, STEP_COEFFICIENTS: the learning rate
