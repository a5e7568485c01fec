"""Every place where the MobileGAN paper is silent or ambiguous, decided once.

Sarker et al., "MobileGAN: Skin Lesion Segmentation Using a Lightweight Generative
Adversarial Network" (2019; later SLSNet). Each constant below is read by the code that
needs it; docs/architecture.md explains the reasons at length. Change a decision here,
not in the module that uses it.
"""

from __future__ import annotations

#: Channels after the multi-scale input block (paper: "16 maps").
MULTISCALE_CHANNELS = 16
#: The input is seen at these scales (full, 1/2, 1/4, 1/8); paper: "4 resolutions".
MULTISCALE_FACTORS = (1, 2, 4, 8)
#: Widths of the three CDA layers. Paper: 2 CDA to 64 maps, then one to 128. The first
#: CDA's width is not given; 32 doubles the channels at each halving, as ERFNet does.
CDA_CHANNELS = (32, 64, 128)
#: Dilations of the 4 FCA layers at 64 maps (ERFNet's first stage uses dilation 1).
FCA64_DILATIONS = (1, 1, 1, 1)
#: Dilations of the 8 FCA layers at 128 maps. ERFNet uses 2,4,8,16 twice on 1024x512
#: inputs; at 128x128 the map is 16x16 there, so dilation 16 would only see padding.
#: We use 1,2,4,8 twice: the largest still covers the whole 16x16 map.
FCA128_DILATIONS = (1, 2, 4, 8, 1, 2, 4, 8)
#: Decoder: the two streams run in parallel on the same upsampled features, each
#: DUA (transposed conv x2 + bilinear skip + CAM) then two FCA layers, and are summed.
#: Stream A keeps a local view, stream B a wider one.
DECODER_CHANNELS = 32
DECODER_STREAM_DILATIONS = ((1, 1), (2, 4))
#: Dropout probability of the encoder's ERFNet blocks (the paper gives none). ERFNet uses
#: 0.03 in its 64-channel stage and 0.3 in its dilated 128-channel stage; here every encoder
#: block takes 0.03 (the value of ERFNet's shallow stage, kept through the deep one: these
#: weights were trained so, and the paper does not say otherwise).
ENCODER_DROPOUT = 0.03
#: The paper's noise z: dropout in the decoder, on in training and (when sampling) at
#: test time, as in pix2pix (whose decoder dropout is 0.5). It sits inside the decoder's FCA
#: layers. 0.3 is a choice, not ERFNet's (ERFNet's decoder has no dropout).
DECODER_DROPOUT = 0.3
#: DANet's reduction of query/key channels in PAM.
PAM_QK_REDUCTION = 8
#: Paper's loss weights. The text says "Jaccard and L1 weights 0.1 and 0.5 respectively";
#: the equation's letters are swapped. We follow the text: Jaccard 0.1, L1 0.5. The equation's
#: reading is configs/candidate_30ep_equation.json (measured in docs/architecture.md).
LAMBDA_JACCARD = 0.1
LAMBDA_L1 = 0.5
#: Weight of the adversarial BCE term in the generator loss (paper: 1).
LAMBDA_ADV = 1.0
#: Optimiser and schedule of the paper.
LEARNING_RATE = 2e-4
ADAM_BETAS = (0.5, 0.999)
BATCH_SIZE = 8
IMAGE_SIZE = 128
EPOCHS = 100
#: The paper's split of ISIC 2018 Task 1 training into train/validation.
TRAIN_FRACTION = 0.8
#: Published numbers (Table 1, ISBI 2017 test; Table 2, ISIC 2018 validation).
PAPER_ISIC2017_TEST = {"ACC": 97.61, "DIC": 87.63, "JAC": 77.98, "SEN": 78.50, "SPE": 99.92}
PAPER_ISIC2018_VAL_JAC_TH = 78.4
PAPER_PARAMETERS_M = 2.35
